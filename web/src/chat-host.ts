// Which chat interface the page shows: OpenAI's component when its script loads (or is chosen),
// else the built-in client; and what each is offered (assistants, models, page tools).
import { loadOffer } from "./chat/choices";
import type { Page, ThreadMeta } from "./chat/protocol";
import { ChatView, type ClientTool, type LogFn } from "./chat/view";
import { type ChatKitModeSettings, GREETING, PROMPTS, chatkitOptions, loadChatKit, mountChatKit } from "./chatkit-mode";

type Obj = { [key: string]: any };

// How long Auto waits for OpenAI's script before using the built-in client, and how long a
// background retry waits once it is known to be unreachable.
const CHATKIT_TIMEOUT_MS = 4000;
const CHATKIT_RETRY_MS = 20000;
const UNREACHABLE_KEY = "chatkit-unreachable";

export interface ChatHostDeps {
  host: HTMLElement;
  api: (path: string, options?: RequestInit) => Promise<Obj>;
  banner: (message: string | null) => void;
  report: (level: string, message: unknown, source?: string) => void;
  dark: () => boolean;
  clientTools: Record<string, ClientTool>;
  firstHistory?: Promise<Page<ThreadMeta>>;
}

export class ChatHost {
  private mounted: string | null = null;
  // Offers the chat's composer the current assistants and models (after Settings changed them).
  refresh: () => void = () => undefined;
  /** Settled once the chat shows what the user came for: the built-in chat's history list. */
  shown: Promise<void> = Promise.resolve();

  constructor(private deps: ChatHostDeps) {}

  private rememberUnreachable(unreachable: boolean): void {
    // The web view forgets its storage on exit, so the app keeps this for the next launch too.
    if (unreachable) sessionStorage.setItem(UNREACHABLE_KEY, "1");
    else sessionStorage.removeItem(UNREACHABLE_KEY);
    void this.deps.api("/api/ui-state", { method: "PUT", body: JSON.stringify({ chatkit_unreachable: unreachable }) }).catch(() => undefined);
  }

  private async knownUnreachable(): Promise<boolean> {
    if (sessionStorage.getItem(UNREACHABLE_KEY) === "1") return true;
    try {
      return Boolean((await this.deps.api("/api/ui-state")).chatkit_unreachable);
    } catch {
      return false;
    }
  }

  private mountBuiltIn(view: Obj): void {
    const log: LogFn = this.deps.report;
    const chat = new ChatView(this.deps.host, {
      greeting: GREETING, prompts: PROMPTS, clientTools: this.deps.clientTools, log, attachments: view.attachments,
      firstHistory: this.deps.firstHistory,
    });
    this.refresh = () => chat.refreshPickers();
    this.shown = chat.shown;
    document.body.dataset.chat = "builtin";
  }

  private async mountOfficial(view: Obj): Promise<void> {
    const { report } = this.deps;
    const { token } = await this.deps.api("/api/session");
    const modeSettings = async (): Promise<ChatKitModeSettings> => ({
      domainKey: view.settings.domain_key, dark: this.deps.dark(), token, attachments: view.attachments,
      offer: await loadOffer(), clientTools: this.deps.clientTools,
    });
    let element: ReturnType<typeof mountChatKit> | null = null;
    const openChat = (threadId: string) => void element?.setThreadId(threadId);
    element = mountChatKit(this.deps.host, chatkitOptions(await modeSettings(), report, openChat), report);
    this.refresh = () => void modeSettings().then((m) => element?.setOptions(chatkitOptions(m, report, openChat)));
  }

  async mount(view: Obj): Promise<void> {
    const { host, banner, report } = this.deps;
    const wanted = view.settings.chat_interface as string;
    if (this.mounted === wanted) return;
    this.mounted = wanted;
    if (wanted === "auto" && (await this.knownUnreachable())) {
      // Offline last time: don't make the user wait for the CDN again. Try it in the background,
      // and use it from the next launch on if it loads.
      banner("Using the built-in chat: OpenAI's ChatKit interface couldn't be reached last time.");
      this.mountBuiltIn(view);
      void loadChatKit(CHATKIT_RETRY_MS).then((loaded) => {
        if (!loaded) return;
        this.rememberUnreachable(false);
        banner("OpenAI's ChatKit interface is reachable again; it will be used the next time the app opens.");
      });
      return;
    }
    if (wanted !== "builtin") {
      // Never a blank window while OpenAI's script is tried.
      const waiting = document.createElement("p");
      waiting.className = "loading";
      waiting.textContent = "Loading the chat…";
      host.replaceChildren(waiting);
      const loaded = await loadChatKit(CHATKIT_TIMEOUT_MS);
      if (loaded) {
        await this.mountOfficial(view);
        banner(null);
        document.body.dataset.chat = "chatkit";
        return;
      }
      if (wanted === "auto") this.rememberUnreachable(true);
      banner(wanted === "chatkit"
        ? "OpenAI's ChatKit interface couldn't be loaded (no connection to OpenAI?), so the built-in chat is shown."
        : "Using the built-in chat: OpenAI's ChatKit interface didn't load within a few seconds.");
      report("warning", "ChatKit script did not load; using the built-in client", "mode");
    } else {
      banner(null);
    }
    this.mountBuiltIn(view);
  }
}
