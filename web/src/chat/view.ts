// The built-in chat client: history sidebar, transcript and composer, speaking the ChatKit
// protocol to the same /chatkit endpoint as OpenAI's component.
import { icon } from "./icons";
import { onRendererUpgrade, renderMarkdown } from "./markdown";
import { ApiError, ChatKitApi, type Obj, type Page, type ThreadMeta, userInput } from "./protocol";
import { applyEvent, emptyState, loadThread, type ThreadState } from "./state";
import type { AttachmentLimits } from "../chatkit-mode";
import { renderComponent } from "./widgets";

export type ClientTool = (params: Obj) => Obj | Promise<Obj>;
export type LogFn = (level: string, message: string) => void;

export interface ChatViewOptions {
  greeting: string;
  prompts: { label: string; prompt: string }[];
  clientTools: Record<string, ClientTool>;
  log: LogFn;
  attachments: AttachmentLimits;
}

interface PendingAttachment {
  id: string;
  name: string;
  mime: string;
  previewUrl?: string;
}

const PAGE = 30;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Obj = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  node.append(...kids);
  return node;
}

export class ChatView {
  private api = new ChatKitApi();
  private state: ThreadState = emptyState();
  private threads: ThreadMeta[] = [];
  private threadsAfter: string | null = null;
  private threadsHasMore = false;
  private abort: AbortController | null = null;
  private attachments: PendingAttachment[] = [];
  private rendered = new Map<string, HTMLElement>();
  // Saved thumbs up/down of the open thread, by item id.
  private feedbackKinds = new Map<string, string>();
  private frame = 0;

  private list = h("ul", { class: "threads", "aria-label": "Conversations" });
  private more = h("button", { type: "button", class: "link", onclick: () => this.loadThreads(true) }, "Load more");
  private filter = h("input", { type: "search", placeholder: "Filter by title", "aria-label": "Filter conversations by title" });
  private transcript = h("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  private status = h("div", { class: "status", role: "status" });
  private input = h("textarea", { rows: 1, placeholder: "Message", "aria-label": "Message" });
  private send = h("button", { type: "submit", class: "primary send", "aria-label": "Send" }, "Send");
  private chips = h("div", { class: "chips", "aria-label": "Attachments" });
  private file = h("input", { type: "file", multiple: true, hidden: true });

  constructor(host: HTMLElement, private options: ChatViewOptions) {
    this.file.accept = Object.entries(options.attachments.accept).flatMap(([mime, ext]) => [mime, ...ext]).join(",");
    const form = h(
      "form",
      { class: "composer", onsubmit: (e: Event) => { e.preventDefault(); this.onSendClick(); } },
      this.chips,
      h("div", { class: "composer-row" },
        h("button", { type: "button", class: "attach", "aria-label": "Attach files", onclick: () => this.file.click() }, icon("attach")),
        this.input,
        this.send,
      ),
      this.file,
    );
    host.replaceChildren(
      h("aside", { class: "sidebar" },
        h("button", { type: "button", class: "primary new-chat", onclick: () => this.newChat() }, "New chat"),
        this.filter, this.list, this.more),
      h("section", { class: "conversation" }, this.transcript, this.status, form),
    );
    this.filter.addEventListener("input", () => this.renderThreads());
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.onSendClick();
      }
    });
    this.input.addEventListener("input", () => this.autosize());
    this.file.addEventListener("change", () => this.attachFiles());
    this.transcript.addEventListener("click", (e) => this.onTranscriptClick(e));
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "n") {
        e.preventDefault();
        this.newChat();
      } else if (e.key === "Escape" && this.abort) {
        e.preventDefault();
        this.stop();
      }
    });
    onRendererUpgrade(() => {
      // Code highlighting or math just loaded: render the replies that use it again.
      for (const [id, item] of this.state.items) if (item.type === "assistant_message" || item.type === "widget") this.state.changed.add(id);
      this.schedule();
    });
    this.renderTranscript();
    void this.loadThreads(false);
  }

  // ---------------------------------------------------------------- history

  private async loadThreads(append: boolean): Promise<void> {
    try {
      const page = await this.api.call<Page<ThreadMeta>>("threads.list", {
        limit: PAGE, order: "desc", ...(append && this.threadsAfter ? { after: this.threadsAfter } : {}),
      });
      this.threads = append ? [...this.threads, ...page.data] : page.data;
      this.threadsAfter = page.after ?? null;
      this.threadsHasMore = page.has_more;
      this.renderThreads();
    } catch (e) {
      this.showStatus(`Couldn't load the history: ${(e as Error).message}`, "danger");
    }
  }

  private renderThreads(): void {
    const needle = this.filter.value.trim().toLowerCase();
    const shown = this.threads.filter((t) => !needle || (t.title || "New chat").toLowerCase().includes(needle));
    this.list.replaceChildren(...shown.map((t) => this.threadRow(t)));
    this.more.hidden = !this.threadsHasMore;
  }

  private threadRow(thread: ThreadMeta): HTMLLIElement {
    const current = this.state.thread?.id === thread.id;
    const title = thread.title || "New chat";
    return h("li", { class: current ? "current" : "" },
      h("button", { type: "button", class: "thread-title", "aria-current": current ? "true" : undefined, onclick: () => this.openThread(thread.id) }, title),
      h("button", { type: "button", class: "icon", "aria-label": `Rename ${title}`, onclick: () => this.rename(thread) }, icon("edit")),
      h("button", { type: "button", class: "icon", "aria-label": `Delete ${title}`, onclick: () => this.remove(thread) }, icon("trash")),
    );
  }

  private async rename(thread: ThreadMeta): Promise<void> {
    const title = window.prompt("Rename conversation", thread.title || "");
    if (title === null || !title.trim()) return;
    const updated = await this.api.call<ThreadMeta>("threads.update", { thread_id: thread.id, title: title.trim() });
    this.threads = this.threads.map((t) => (t.id === thread.id ? { ...t, title: updated.title } : t));
    if (this.state.thread?.id === thread.id) this.state.thread = { ...this.state.thread, title: updated.title };
    this.renderThreads();
  }

  private async remove(thread: ThreadMeta): Promise<void> {
    if (!window.confirm(`Delete “${thread.title || "New chat"}”? This can't be undone.`)) return;
    await this.api.call("threads.delete", { thread_id: thread.id });
    this.threads = this.threads.filter((t) => t.id !== thread.id);
    if (this.state.thread?.id === thread.id) this.newChat();
    this.renderThreads();
  }

  async openThread(threadId: string): Promise<void> {
    if (this.abort) this.stop();
    try {
      const thread = await this.api.call<Obj>("threads.get_by_id", { thread_id: threadId });
      const items: Obj[] = [...thread.items.data];
      let page = thread.items as Page<Obj>;
      while (page.has_more && page.after) {
        page = await this.api.call<Page<Obj>>("items.list", { thread_id: threadId, after: page.after, order: "asc", limit: 100 });
        items.push(...page.data);
      }
      this.feedbackKinds = await this.loadFeedback(threadId);
      this.state = loadThread(thread, items);
      this.rendered.clear();
      this.renderTranscript();
      this.renderThreads();
      this.input.focus();
    } catch (e) {
      this.showStatus(`Couldn't open the conversation: ${(e as Error).message}`, "danger");
    }
  }

  private async loadFeedback(threadId: string): Promise<Map<string, string>> {
    try {
      const response = await fetch(`/api/threads/${encodeURIComponent(threadId)}/feedback`);
      if (!response.ok) return new Map();
      const body = await response.json();
      return new Map(Object.entries(body.feedback || {}) as [string, string][]);
    } catch {
      return new Map();
    }
  }

  newChat(): void {
    if (this.abort) this.stop();
    this.feedbackKinds = new Map();
    this.state = emptyState();
    this.rendered.clear();
    this.renderTranscript();
    this.renderThreads();
    this.input.focus();
  }

  // ---------------------------------------------------------------- turns

  private onSendClick(): void {
    if (this.abort) {
      this.stop();
      return;
    }
    const text = this.input.value.trim();
    if (!text && !this.attachments.length) return;
    const ids = this.attachments.map((a) => a.id);
    this.input.value = "";
    this.attachments = [];
    this.renderChips();
    this.autosize();
    void this.sendMessage(text, ids);
  }

  async sendMessage(text: string, attachments: string[] = []): Promise<void> {
    const input = userInput(text, attachments);
    if (this.state.thread) await this.run("threads.add_user_message", { thread_id: this.state.thread.id, input });
    else await this.run("threads.create", { input });
  }

  private async run(type: string, params: Obj): Promise<void> {
    this.state.error = null;
    this.state.progress = null;
    this.abort = new AbortController();
    this.setBusy(true);
    const before = this.state.thread?.id;
    try {
      await this.api.stream(type, params, (event) => {
        if (!applyEvent(this.state, event)) this.options.log("warning", `unhandled ChatKit event ${event.type}`);
        this.schedule();
      }, this.abort.signal);
    } catch (e) {
      if ((e as Error).name !== "AbortError") {
        this.state.error = { message: (e as Error).message, allowRetry: !(e instanceof ApiError && e.status < 500) };
      }
    } finally {
      const stopped = this.abort?.signal.aborted;
      this.abort = null;
      this.state.progress = null;
      this.setBusy(false);
      this.schedule();
      if (this.state.thread && this.state.thread.id !== before) void this.loadThreads(false);
      else if (this.state.thread) this.touchThread();
      if (stopped && this.state.thread) setTimeout(() => this.state.thread && this.openThread(this.state.thread.id), 300);
      await this.runClientTools();
    }
  }

  stop(): void {
    this.abort?.abort();
  }

  private touchThread(): void {
    const thread = this.state.thread;
    if (!thread) return;
    this.threads = [{ ...thread }, ...this.threads.filter((t) => t.id !== thread.id)];
    this.renderThreads();
  }

  private async retry(): Promise<void> {
    const lastUser = [...this.state.order].reverse().map((id) => this.state.items.get(id)).find((i) => i?.type === "user_message");
    if (!this.state.thread || !lastUser) return;
    const afterUser = this.state.order.slice(this.state.order.indexOf(lastUser.id) + 1);
    for (const id of afterUser) {
      this.state.items.delete(id);
      this.rendered.get(id)?.remove();
      this.rendered.delete(id);
    }
    this.state.order = this.state.order.slice(0, this.state.order.indexOf(lastUser.id) + 1);
    await this.run("threads.retry_after_item", { thread_id: this.state.thread.id, item_id: lastUser.id });
  }

  private async runClientTools(): Promise<void> {
    const last = this.state.items.get(this.state.order[this.state.order.length - 1]);
    if (!this.state.thread || !last || last.type !== "client_tool_call" || last.status !== "pending") return;
    const tool = this.options.clientTools[last.name];
    let result: Obj;
    try {
      result = tool ? await tool(last.arguments || {}) : { error: `The app has no client tool named ${last.name}.` };
    } catch (e) {
      result = { error: (e as Error).message };
    }
    await this.run("threads.add_client_tool_output", { thread_id: this.state.thread.id, result });
  }

  private async action(action: Obj, itemId: string): Promise<void> {
    if (!this.state.thread || this.abort) return;
    await this.run("threads.custom_action", { thread_id: this.state.thread.id, item_id: itemId, action });
  }

  private async feedback(itemId: string, kind: "positive" | "negative"): Promise<void> {
    const thread = this.state.thread;
    if (!thread) return;
    try {
      if (this.feedbackKinds.get(itemId) === kind) {
        // Pressing the same thumb again takes the feedback back.
        const response = await fetch(`/api/threads/${encodeURIComponent(thread.id)}/feedback/${encodeURIComponent(itemId)}`, { method: "DELETE" });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        this.feedbackKinds.delete(itemId);
      } else {
        await this.api.call("items.feedback", { thread_id: thread.id, item_ids: [itemId], kind });
        this.feedbackKinds.set(itemId, kind);
      }
    } catch (e) {
      this.showStatus(`Couldn't save the feedback: ${(e as Error).message}`, "danger");
      return;
    }
    this.state.changed.add(itemId);
    this.schedule();
  }

  // ---------------------------------------------------------------- attachments

  private async attachFiles(): Promise<void> {
    for (const file of Array.from(this.file.files || [])) {
      try {
        const created = await this.api.call<Obj>("attachments.create", {
          name: file.name, size: file.size, mime_type: file.type || "text/plain",
        });
        const descriptor = created.upload_descriptor;
        const response = await fetch(descriptor.url, { method: descriptor.method, headers: descriptor.headers, body: file });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error((body.error && body.error.message) || `upload failed (${response.status})`);
        }
        this.attachments.push({
          id: created.id, name: file.name, mime: created.mime_type,
          previewUrl: created.type === "image" ? URL.createObjectURL(file) : undefined,
        });
      } catch (e) {
        this.showStatus(`${file.name}: ${(e as Error).message}`, "danger");
      }
    }
    this.file.value = "";
    this.renderChips();
  }

  private renderChips(): void {
    this.chips.replaceChildren(...this.attachments.map((a) =>
      h("span", { class: "chip" },
        a.previewUrl ? h("img", { src: a.previewUrl, alt: "" }) : "",
        a.name,
        h("button", { type: "button", class: "icon", "aria-label": `Remove ${a.name}`, onclick: () => this.dropAttachment(a.id) }, icon("close"))),
    ));
  }

  private dropAttachment(id: string): void {
    this.attachments = this.attachments.filter((a) => a.id !== id);
    void this.api.call("attachments.delete", { attachment_id: id }).catch(() => undefined);
    this.renderChips();
  }

  // ---------------------------------------------------------------- rendering

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderTranscript();
    });
  }

  private renderTranscript(): void {
    if (!this.state.order.length && !this.abort) {
      this.rendered.clear();
      this.transcript.replaceChildren(this.startScreen());
      this.renderStatus();
      return;
    }
    this.transcript.querySelector(".start")?.remove();
    for (const id of this.state.changed) {
      const item = this.state.items.get(id);
      const old = this.rendered.get(id);
      if (!item) {
        old?.remove();
        this.rendered.delete(id);
        continue;
      }
      const node = this.renderItem(item);
      if (old) old.replaceWith(node);
      else this.transcript.append(node);
      this.rendered.set(id, node);
    }
    this.state.changed.clear();
    // Keep DOM order equal to the thread's order (items can be replaced or removed mid-stream).
    for (const id of this.state.order) {
      const node = this.rendered.get(id);
      if (node && !node.hidden) this.transcript.append(node);
    }
    this.renderStatus();
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  private startScreen(): HTMLElement {
    return h("div", { class: "start" },
      h("h2", {}, this.options.greeting),
      h("div", { class: "prompts" }, ...this.options.prompts.map((p) =>
        h("button", { type: "button", class: "prompt", onclick: () => void this.sendMessage(p.prompt) }, p.label))));
  }

  private renderItem(item: Obj): HTMLElement {
    const wrap = h("article", { class: `item ${item.type}`, "data-item-id": item.id });
    switch (item.type) {
      case "user_message": {
        const text = (item.content || []).map((c: Obj) => (c.type === "input_tag" ? `@${c.text}` : c.text)).join("");
        wrap.append(h("p", { class: "bubble" }, text));
        for (const a of item.attachments || []) {
          wrap.append(a.type === "image"
            ? h("img", { class: "attachment-preview", src: `/api/attachments/${a.id}/content`, alt: a.name })
            : h("a", { class: "attachment-file", href: `/api/attachments/${a.id}/content`, target: "_blank" }, a.name));
        }
        break;
      }
      case "assistant_message": {
        const text = (item.content || []).map((c: Obj) => c.text).join("\n\n");
        const body = h("div", { class: "markdown" }, renderMarkdown(text));
        const given = this.feedbackKinds.get(item.id);
        const up = h("button", { type: "button", class: "icon", "aria-label": "Good reply", "aria-pressed": String(given === "positive") }, icon("up"));
        const down = h("button", { type: "button", class: "icon", "aria-label": "Bad reply", "aria-pressed": String(given === "negative") }, icon("down"));
        up.addEventListener("click", () => void this.feedback(item.id, "positive"));
        down.addEventListener("click", () => void this.feedback(item.id, "negative"));
        const retry = h("button", { type: "button", class: "icon", "aria-label": "Retry", onclick: () => void this.retry() }, icon("retry"));
        wrap.append(body, h("div", { class: "item-actions" }, up, down, retry));
        break;
      }
      case "widget":
        wrap.append(renderComponent(item.widget, item.id, (action, id) => void this.action(action, id)));
        break;
      case "workflow": {
        const tasks = (item.workflow?.tasks || []).map((t: Obj) => h("li", {}, t.title || t.content || t.type));
        wrap.append(h("details", { open: item.workflow?.expanded ? "" : undefined },
          h("summary", {}, item.workflow?.type === "reasoning" ? "Thinking" : "Steps"), h("ul", {}, ...tasks)));
        break;
      }
      case "task":
        wrap.append(h("p", { class: "task" }, item.task?.title || item.task?.content || "Task"));
        break;
      case "generated_image":
        if (item.image) wrap.append(h("img", { class: "generated", src: item.image.url, alt: "Generated image" }));
        else wrap.append(h("p", { class: "task" }, "Generating an image…"));
        break;
      case "client_tool_call":
        wrap.append(h("p", { class: "task" }, item.status === "pending" ? `Running ${item.name}…` : `Ran ${item.name}`));
        break;
      default:
        // Hidden context, end-of-turn and anything new take no space.
        wrap.hidden = true;
    }
    return wrap;
  }

  private renderStatus(): void {
    const parts: HTMLElement[] = [];
    if (this.state.progress) parts.push(h("p", { class: "progress" }, this.state.progress));
    for (const notice of this.state.notices.splice(0)) {
      parts.push(h("p", { class: `notice ${notice.level}` }, notice.title ? `${notice.title}: ${notice.message}` : notice.message));
    }
    const error = this.state.error;
    if (error) {
      const p = h("p", { class: "notice danger error-message" }, error.message);
      if (error.allowRetry) p.append(" ", h("button", { type: "button", class: "link", onclick: () => void this.retry() }, "Retry"));
      parts.push(p);
    }
    if (parts.length || !this.abort) this.status.replaceChildren(...parts);
  }

  private showStatus(message: string, level: "info" | "warning" | "danger"): void {
    this.status.replaceChildren(h("p", { class: `notice ${level}` }, message));
  }

  private setBusy(busy: boolean): void {
    this.send.textContent = busy ? "Stop" : "Send";
    this.send.setAttribute("aria-label", busy ? "Stop" : "Send");
    this.send.classList.toggle("stop", busy);
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  private onTranscriptClick(e: Event): void {
    const target = e.target as HTMLElement;
    if (target.classList.contains("copy")) {
      const code = target.closest(".code")?.querySelector("code")?.textContent || "";
      void navigator.clipboard?.writeText(code).then(() => (target.textContent = "Copied"), () => undefined);
    }
  }
}
