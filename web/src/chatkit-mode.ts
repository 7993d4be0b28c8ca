// ChatKit mode: OpenAI's <openai-chatkit> web component against our local /chatkit endpoint.
// Its runtime exists only on OpenAI's CDN, so it is loaded on demand and may be unavailable.
/// <reference path="../node_modules/@openai/chatkit/types/dom-augment.d.ts" />
import type { ChatKitEvents, ChatKitOptions, OpenAIChatKit, SupportedLocale } from "@openai/chatkit";
import { ASSISTANT_PREFIX, type ComposerOffer, effectiveModel, loadChoice, shutdownWords } from "./chat/choices";
import { entityPreview, searchEntities } from "./chat/mentions";
import type { ClientTool } from "./chat/view";

export const CHATKIT_SCRIPT = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js";

export const GREETING = "What can I help with?";
export const PROMPTS = [
  { label: "Explain a concept", prompt: "Explain how public-key cryptography works, simply." },
  { label: "Draft an email", prompt: "Draft a short, friendly email asking to reschedule a meeting." },
  { label: "Review some code", prompt: "What are common pitfalls when writing async Python code?" },
];

/** The attachment rules, as the server states them in the settings view. */
export interface AttachmentLimits {
  max_bytes: number;
  max_count: number;
  accept: Record<string, string[]>;
}

export interface ChatKitModeSettings {
  domainKey: string;
  dark: boolean;
  token: string;
  attachments: AttachmentLimits;
  offer: ComposerOffer;
  clientTools: Record<string, ClientTool>;
}

export type LogFn = (level: string, message: string) => void;

/** The composer's assistant picker (as tools that stay selected) and model picker. */
function composerPickers(offer: ComposerOffer): Pick<NonNullable<ChatKitOptions["composer"]>, "tools" | "models"> {
  const pickers: Pick<NonNullable<ChatKitOptions["composer"]>, "tools" | "models"> = {};
  if (offer.assistants.length > 1) {
    pickers.tools = offer.assistants.map((a) => ({
      id: `${ASSISTANT_PREFIX}${a.id}`, label: a.name, shortLabel: a.name, icon: "agent", persistent: true,
    }));
  }
  if (offer.models.length) {
    // The component's picker has no buttons of its own: a model that shuts down says so and
    // names its replacement, which is the option beside it (one click). A default Settings name
    // that isn't offered gives way, as the server's turn will.
    const chosen = effectiveModel(offer, offer.default_model);
    pickers.models = offer.models.map((m) => {
      const r = offer.retiring[m];
      const replaces = offer.models.filter((old) => offer.retiring[old]?.replacement === m);
      const description = r
        ? `${r.retired ? "Shut down" : "Shuts down"} on ${r.shutdown_words}${r.replacement ? `; switch to ${r.replacement}` : ""}`
        : replaces.length ? `Replaces ${replaces.join(", ")}` : undefined;
      const when = shutdownWords(offer.retiring, m);
      return { id: m, label: when ? `${m} (${when})` : m, default: m === chosen, ...(description ? { description } : {}) };
    });
  }
  return pickers;
}

/** The chat open in the component, for its header's export button. */
let openThreadId: string | null = null;

function exportOpenChat(): void {
  if (!openThreadId) return;
  const link = document.createElement("a");
  link.href = `/api/data/export?${new URLSearchParams({ format: "markdown", thread: openThreadId })}`;
  link.download = "";
  link.click();
}

export function chatkitOptions(settings: ChatKitModeSettings, log: LogFn, openChat?: (threadId: string) => void): ChatKitOptions {
  return {
    api: {
      url: new URL("/chatkit", window.location.origin).toString(),
      domainKey: settings.domainKey,
      // Every call carries the session token; the component's own fetch would not.
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("Authorization", `Bearer ${settings.token}`);
        return fetch(input, { ...init, headers, credentials: "same-origin" });
      },
      uploadStrategy: { type: "two_phase" },
    },
    locale: navigator.language as SupportedLocale,
    theme: { colorScheme: settings.dark ? "dark" : "light", radius: "round", density: "normal" },
    startScreen: { greeting: GREETING, prompts: PROMPTS.map((p) => ({ label: p.label, prompt: p.prompt })) },
    history: { enabled: true, showDelete: true, showRename: true },
    // Export the open chat as Markdown (Settings → Your data exports them all, or as JSON).
    header: { rightAction: { icon: "share", onClick: exportOpenChat } },
    composer: {
      placeholder: "Message",
      attachments: {
        enabled: true,
        maxSize: settings.attachments.max_bytes,
        maxCount: settings.attachments.max_count,
        accept: settings.attachments.accept,
      },
      ...composerPickers(settings.offer),
    },
    entities: {
      // `@` finds past chats and files; a mentioned chat opens on click.
      onTagSearch: (query) => searchEntities(query) as ReturnType<NonNullable<NonNullable<ChatKitOptions["entities"]>["onTagSearch"]>>,
      showComposerMenu: true,
      onClick: (entity) => {
        const threadId = entity.data?.thread_id;
        if (entity.data?.type === "chat" && threadId) openChat?.(threadId);
      },
      onRequestPreview: async (entity) => ({ preview: (await entityPreview(entity.id)) as never }),
    },
    widgets: {
      onAction: async (action) => {
        // Actions marked for the client: a search result opens its chat.
        const threadId = action.payload?.thread_id;
        if (action.type === "chat.open" && typeof threadId === "string") openChat?.(threadId);
        else log("warning", `no client handler for the widget action ${action.type}`);
      },
    },
    threadItemActions: { feedback: true, retry: true },
    onClientTool: async ({ name, params }) => {
      const tool = settings.clientTools[name];
      if (!tool) {
        log("warning", `client tool ${name} was requested but this app has none by that name`);
        return { error: `The app has no client tool named ${name}.` };
      }
      try {
        return (await tool(params as Record<string, unknown>)) as Record<string, unknown>;
      } catch (e) {
        return { error: (e as Error).message };
      }
    },
  };
}

/** Load the component's script; false if it doesn't define the element within `timeoutMs`. */
export function loadChatKit(timeoutMs: number, src = CHATKIT_SCRIPT): Promise<boolean> {
  if (customElements.get("openai-chatkit")) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = window.setTimeout(() => resolve(false), timeoutMs);
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onerror = () => {
      window.clearTimeout(timer);
      resolve(false);
    };
    document.head.append(script);
    customElements.whenDefined("openai-chatkit").then(() => {
      window.clearTimeout(timer);
      resolve(true);
    });
  });
}

export function mountChatKit(host: HTMLElement, options: ChatKitOptions, log: LogFn): OpenAIChatKit {
  const element = document.createElement("openai-chatkit");
  element.addEventListener("chatkit.error", (event: ChatKitEvents["chatkit.error"]) =>
    log("error", `chatkit.error: ${event.detail.error}`));
  element.addEventListener("chatkit.log", (event: ChatKitEvents["chatkit.log"]) =>
    log("info", `chatkit.log: ${JSON.stringify(event.detail)}`));
  host.replaceChildren(element);
  element.setOptions(options);
  // The composer shows the assistant and model the opened chat remembers.
  element.addEventListener("chatkit.thread.change", (event: ChatKitEvents["chatkit.thread.change"]) => {
    const threadId = event.detail.threadId;
    openThreadId = threadId ?? null;
    if (!threadId) return;
    void loadChoice(threadId).then((choice) => element.setComposerValue({
      selectedToolId: choice.assistant_id ? `${ASSISTANT_PREFIX}${choice.assistant_id}` : null,
      ...(choice.model ? { selectedModelId: choice.model } : {}),
    })).catch((e) => log("warning", `couldn't show the chat's choices: ${e}`));
  });
  return element;
}
