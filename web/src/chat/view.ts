// The built-in chat client: history sidebar, transcript and composer, speaking the ChatKit
// protocol to the same /chatkit endpoint as OpenAI's component. This module runs the turns; the
// sidebar (history.ts), the conversation (transcript.ts) and the composer (composer.ts) draw.
import type { AttachmentLimits } from "../chatkit-mode";
import { Pickers, loadChoice } from "./choices";
import { Composer } from "./composer";
import { h } from "./dom";
import { type FeedbackKind, loadFeedback, toggleFeedback } from "./feedback";
import { HistoryPanel } from "./history";
import { LateTitles } from "./late-titles";
import { type Entity, tagContent } from "./mentions";
import { ApiError, ChatKitApi, type Obj, type Page, type ThreadMeta, userInput } from "./protocol";
import { applyEvent, emptyState, loadThread, type ThreadState } from "./state";
import { Transcript } from "./transcript";

export type ClientTool = (params: Obj) => Obj | Promise<Obj>;
export type LogFn = (level: string, message: string) => void;

export interface ChatViewOptions {
  greeting: string;
  prompts: { label: string; prompt: string }[];
  clientTools: Record<string, ClientTool>;
  log: LogFn;
  attachments: AttachmentLimits;
  /** The history's first page, if the page has asked for it already. */
  firstHistory?: Promise<Page<ThreadMeta>>;
}

export class ChatView {
  private api = new ChatKitApi();
  private state: ThreadState = emptyState();
  private abort: AbortController | null = null;
  private frame = 0;
  private history: HistoryPanel;
  private transcript: Transcript;
  private composer: Composer;
  private pickers = new Pickers();
  private lateTitles = new LateTitles(this.api, (threadId, title) => {
    this.history.retitle(threadId, title);
    if (this.state.thread?.id === threadId) this.state.thread = { ...this.state.thread, title };
  });
  /** Settled once the history's first page is on screen (or has said why it isn't). */
  readonly shown: Promise<void>;

  constructor(host: HTMLElement, private options: ChatViewOptions) {
    this.history = new HistoryPanel(this.api, {
      open: (id, itemId) => void this.openThread(id, itemId),
      newChat: () => this.newChat(),
      currentId: () => this.state.thread?.id ?? null,
      renamed: (thread) => {
        if (this.state.thread?.id === thread.id) this.state.thread = { ...this.state.thread, title: thread.title };
      },
      deleted: (id) => {
        if (this.state.thread?.id === id) this.newChat();
      },
      problem: (message) => this.transcript.showStatus(message, "danger"),
    });
    this.transcript = new Transcript(options.greeting, options.prompts, {
      sendPrompt: (prompt) => void this.sendMessage(prompt),
      feedback: (itemId, kind) => void this.feedback(itemId, kind),
      retry: () => void this.retry(),
      action: (action, itemId) => void this.action(action, itemId),
      openChat: (threadId) => void this.openThread(threadId),
    }, () => this.state, () => this.schedule());
    this.composer = new Composer(this.api, options.attachments, {
      submit: (text, ids, tags) => this.onSubmit(text, ids, tags),
      problem: (message) => this.transcript.showStatus(message, "danger"),
    }, this.pickers.element);
    host.replaceChildren(
      this.history.element,
      h("section", { class: "conversation" }, this.transcript.element, this.transcript.status, this.composer.element),
    );
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "n") {
        e.preventDefault();
        this.newChat();
      } else if (e.key === "Escape" && this.abort) {
        e.preventDefault();
        this.stop();
      }
    });
    this.render();
    this.shown = this.history.load(false, options.firstHistory);
    // The pickers' lists come from the full app, which the launch builds once the page has said
    // it is up (main.ts does, as soon as this is shown): ask for them after that.
    void this.shown.then(() => window.setTimeout(() => void this.pickers.refresh(), 0));
  }

  /** Assistants or the provider changed in Settings, or chats were imported: offer the new
   * lists. */
  refreshPickers(): void {
    void this.pickers.refresh();
    void this.history.load(false);
  }

  // ---------------------------------------------------------------- threads

  async openThread(threadId: string, focusItem?: string | null): Promise<void> {
    if (this.abort) this.stop();
    try {
      const choice = loadChoice(threadId);
      const thread = await this.api.call<Obj>("threads.get_by_id", { thread_id: threadId });
      const items: Obj[] = [...thread.items.data];
      let page = thread.items as Page<Obj>;
      while (page.has_more && page.after) {
        page = await this.api.call<Page<Obj>>("items.list", { thread_id: threadId, after: page.after, order: "asc", limit: 100 });
        items.push(...page.data);
      }
      this.transcript.feedbackKinds = await loadFeedback(threadId);
      // Nothing awaits between the new state and drawing it: a frame drawn in between would
      // use up the state's changes before the transcript is reset.
      this.pickers.set(await choice);
      this.state = loadThread(thread, items);
      this.transcript.reset();
      this.render();
      this.history.render();
      if (focusItem) this.transcript.reveal(focusItem);
      else this.composer.focus();
    } catch (e) {
      this.transcript.showStatus(`Couldn't open the conversation: ${(e as Error).message}`, "danger");
    }
  }

  newChat(): void {
    if (this.abort) this.stop();
    this.transcript.feedbackKinds = new Map();
    this.state = emptyState();
    this.pickers.set({ assistant_id: null, model: null });
    this.transcript.reset();
    this.render();
    this.history.render();
    this.composer.focus();
  }

  // ---------------------------------------------------------------- turns

  private onSubmit(text: string, attachmentIds: string[], tags: Entity[] = []): void {
    if (this.abort) {
      this.stop();
      return;
    }
    if (!text && !attachmentIds.length && !tags.length) return;
    this.composer.clear();
    void this.sendMessage(text, attachmentIds, tags);
  }

  async sendMessage(text: string, attachments: string[] = [], tags: Entity[] = []): Promise<void> {
    const input = userInput(text, attachments, this.pickers.options(), tags.map(tagContent));
    const refused = this.state.thread
      ? await this.run("threads.add_user_message", { thread_id: this.state.thread.id, input })
      : await this.run("threads.create", { input });
    // Refused before anything was saved (an unknown model, a missing file): keep the words.
    if (refused) this.composer.restore(text);
  }

  /** Runs a streaming request; true if the server refused it before the stream started. */
  private async run(type: string, params: Obj): Promise<boolean> {
    let refused = false;
    this.state.error = null;
    // Until the server answers (right after launch it may still be loading the chat engine),
    // say that the message is on its way rather than show nothing.
    const sending = "Sending…";
    this.state.progress = sending;
    this.abort = new AbortController();
    this.composer.setBusy(true);
    this.schedule();
    let answered = false;
    const before = this.state.thread?.id;
    // Page tools run only for calls the server made in this very stream: a pending call that
    // is merely stored (an imported chat, say) is history, never an instruction to act.
    const liveCalls = new Set<string>();
    try {
      await this.api.stream(type, params, (event) => {
        if (!answered) {
          answered = true;
          if (this.state.progress === sending) this.state.progress = null;
        }
        if (event.type === "thread.item.done" && event.item?.type === "client_tool_call") liveCalls.add(String(event.item.id));
        if (!applyEvent(this.state, event)) this.options.log("warning", `unhandled ChatKit event ${event.type}`);
        this.schedule();
      }, this.abort.signal);
    } catch (e) {
      if ((e as Error).name !== "AbortError") {
        this.state.error = { message: (e as Error).message, allowRetry: !(e instanceof ApiError && e.status < 500) };
        refused = e instanceof ApiError && e.status < 500;
      }
    } finally {
      const stopped = this.abort?.signal.aborted;
      this.abort = null;
      this.state.progress = null;
      this.composer.setBusy(false);
      this.schedule();
      const thread = this.state.thread;
      if (thread) {
        let listed = Promise.resolve();
        if (thread.id !== before) listed = this.history.load(false);
        else this.history.touch(thread);
        // After the list, so that a list still on its way cannot put back the missing title.
        if (!thread.title) void listed.then(() => this.lateTitles.watch(thread.id));
      }
      if (stopped && this.state.thread) setTimeout(() => this.state.thread && this.openThread(this.state.thread.id), 300);
      await this.runClientTools(liveCalls);
    }
    return refused;
  }

  stop(): void {
    this.abort?.abort();
  }

  private async retry(): Promise<void> {
    const lastUser = [...this.state.order].reverse().map((id) => this.state.items.get(id)).find((i) => i?.type === "user_message");
    if (!this.state.thread || !lastUser) return;
    const afterUser = this.state.order.slice(this.state.order.indexOf(lastUser.id) + 1);
    for (const id of afterUser) {
      this.state.items.delete(id);
      this.transcript.drop(id);
    }
    this.state.order = this.state.order.slice(0, this.state.order.indexOf(lastUser.id) + 1);
    await this.run("threads.retry_after_item", { thread_id: this.state.thread.id, item_id: lastUser.id });
  }

  private async runClientTools(liveCalls: Set<string>): Promise<void> {
    const last = this.state.items.get(this.state.order[this.state.order.length - 1]);
    if (!this.state.thread || !last || last.type !== "client_tool_call" || last.status !== "pending") return;
    if (!liveCalls.has(last.id)) return;
    const tool = this.options.clientTools[last.name];
    let result: Obj;
    try {
      result = tool ? await tool(last.arguments || {}) : { error: `The app has no client tool named ${last.name}.` };
    } catch (e) {
      result = { error: (e as Error).message };
    }
    // The server marks the call done without sending it again: show it done here.
    last.status = "completed";
    this.state.changed.add(last.id);
    await this.run("threads.add_client_tool_output", { thread_id: this.state.thread.id, result });
  }

  private async action(action: Obj, itemId: string): Promise<void> {
    if (action.handler === "client") {
      // Handled here, never sent to the server.
      if (action.type === "chat.open" && action.payload?.thread_id) {
        await this.openThread(String(action.payload.thread_id), action.payload.item_id ?? null);
      } else {
        this.options.log("warning", `no client handler for the widget action ${action.type}`);
      }
      return;
    }
    if (!this.state.thread || this.abort) return;
    await this.run("threads.custom_action", { thread_id: this.state.thread.id, item_id: itemId, action });
  }

  private async feedback(itemId: string, kind: FeedbackKind): Promise<void> {
    const thread = this.state.thread;
    if (!thread) return;
    const kinds = this.transcript.feedbackKinds;
    try {
      const saved = await toggleFeedback(this.api, thread.id, itemId, kind, kinds.get(itemId));
      if (saved) kinds.set(itemId, saved);
      else kinds.delete(itemId);
    } catch (e) {
      this.transcript.showStatus(`Couldn't save the feedback: ${(e as Error).message}`, "danger");
      return;
    }
    this.state.changed.add(itemId);
    this.schedule();
  }

  // ---------------------------------------------------------------- rendering

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    this.transcript.render(this.abort !== null);
  }
}
