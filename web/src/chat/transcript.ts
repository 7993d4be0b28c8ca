// The conversation: renders a thread's items (only those that changed), its progress, notices
// and errors, and the start screen.
import { h } from "./dom";
import type { FeedbackKind } from "./feedback";
import { icon } from "./icons";
import type { ThreadItem } from "./items";
import { onRendererUpgrade, renderMarkdown } from "./markdown";
import type { Obj } from "./protocol";
import type { ThreadState } from "./state";
import { renderComponent } from "./widgets";

export interface TranscriptHandlers {
  sendPrompt: (prompt: string) => void;
  feedback: (itemId: string, kind: FeedbackKind) => void;
  retry: () => void;
  action: (action: Obj, itemId: string) => void;
  openChat: (threadId: string) => void;
}

export class Transcript {
  readonly element = h("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  readonly status = h("div", { class: "status", role: "status" });
  // Saved thumbs up/down of the open thread, by item id.
  feedbackKinds = new Map<string, string>();
  private rendered = new Map<string, HTMLElement>();

  constructor(
    private greeting: string,
    private prompts: { label: string; prompt: string }[],
    private handlers: TranscriptHandlers,
    private current: () => ThreadState,
    rerender: () => void,
  ) {
    this.element.addEventListener("click", (e) => this.onClick(e));
    onRendererUpgrade(() => {
      // Code highlighting or math just loaded: render the replies that use it again.
      const state = this.current();
      for (const [id, item] of state.items) if (item.type === "assistant_message" || item.type === "widget") state.changed.add(id);
      rerender();
    });
  }

  /** Forget what is shown (another chat is about to be drawn). */
  reset(): void {
    this.rendered.clear();
    this.element.replaceChildren();
  }

  drop(id: string): void {
    this.rendered.get(id)?.remove();
    this.rendered.delete(id);
  }

  render(busy: boolean): void {
    const state = this.current();
    if (!state.order.length && !busy) {
      this.rendered.clear();
      this.element.replaceChildren(this.startScreen());
      this.renderStatus(busy);
      return;
    }
    this.element.querySelector(".start")?.remove();
    for (const id of state.changed) {
      const item = state.items.get(id);
      const old = this.rendered.get(id);
      if (!item) {
        old?.remove();
        this.rendered.delete(id);
        continue;
      }
      const node = this.renderItem(item as ThreadItem);
      if (old) old.replaceWith(node);
      else this.element.append(node);
      this.rendered.set(id, node);
    }
    state.changed.clear();
    // Keep DOM order equal to the thread's order (items can be replaced or removed mid-stream).
    for (const id of state.order) {
      const node = this.rendered.get(id);
      if (node && !node.hidden) this.element.append(node);
    }
    this.renderStatus(busy);
    this.element.scrollTop = this.element.scrollHeight;
  }

  /** Scrolls to an item (a search result) and marks it for a moment. */
  reveal(itemId: string): void {
    const node = this.rendered.get(itemId);
    if (!node) return;
    node.scrollIntoView({ block: "center" });
    node.classList.add("found");
    node.tabIndex = -1;
    node.focus({ preventScroll: true });
    window.setTimeout(() => node.classList.remove("found"), 2500);
  }

  showStatus(message: string, level: "info" | "warning" | "danger"): void {
    this.status.replaceChildren(h("p", { class: `notice ${level}` }, message));
  }

  private startScreen(): HTMLElement {
    return h("div", { class: "start" },
      h("h2", {}, this.greeting),
      h("div", { class: "prompts" }, ...this.prompts.map((p) =>
        h("button", { type: "button", class: "prompt", onclick: () => this.handlers.sendPrompt(p.prompt) }, p.label))));
  }

  private renderItem(item: ThreadItem): HTMLElement {
    const wrap = h("article", { class: `item ${item.type}`, "data-item-id": item.id });
    switch (item.type) {
      case "user_message": {
        const parts = (item.content || []).flatMap((c, i) => [
          i ? " " : "",
          c.type === "input_tag" ? h("span", { class: "tag", title: c.group || "" }, `@${c.text}`) : c.text,
        ]);
        wrap.append(h("p", { class: "bubble" }, ...parts));
        for (const a of item.attachments || []) {
          wrap.append(a.type === "image"
            ? h("img", { class: "attachment-preview", src: `/api/attachments/${a.id}/content`, alt: a.name })
            : h("a", { class: "attachment-file", href: `/api/attachments/${a.id}/content`, target: "_blank" }, a.name));
        }
        break;
      }
      case "assistant_message": {
        const text = (item.content || []).map((c) => c.text).join("\n\n");
        const body = h("div", { class: "markdown" }, renderMarkdown(text));
        const given = this.feedbackKinds.get(item.id);
        const up = h("button", { type: "button", class: "icon", "aria-label": "Good reply", "aria-pressed": String(given === "positive") }, icon("up"));
        const down = h("button", { type: "button", class: "icon", "aria-label": "Bad reply", "aria-pressed": String(given === "negative") }, icon("down"));
        up.addEventListener("click", () => this.handlers.feedback(item.id, "positive"));
        down.addEventListener("click", () => this.handlers.feedback(item.id, "negative"));
        const retry = h("button", { type: "button", class: "icon", "aria-label": "Retry", onclick: () => this.handlers.retry() }, icon("retry"));
        const sources = renderSources((item.content || []).flatMap((c) => c.annotations || []), this.handlers.openChat);
        wrap.append(body, ...(sources ? [sources] : []), h("div", { class: "item-actions" }, up, down, retry));
        break;
      }
      case "widget":
        wrap.append(renderComponent(item.widget, item.id, (action, id) => this.handlers.action(action, id)));
        break;
      case "workflow":
        wrap.append(renderWorkflow(item.workflow));
        break;
      case "task":
        wrap.append(h("p", { class: "task" }, item.task?.title || item.task?.content || "Task"));
        break;
      case "generated_image":
        if (item.image) wrap.append(h("img", { class: "generated", src: item.image.url, alt: "Generated image" }));
        else wrap.append(h("p", { class: "task" }, "Generating an image…"));
        break;
      case "client_tool_call":
        wrap.append(h("p", { class: "task" }, item.status === "pending" ? `Asking the app: ${item.name}…` : `The app ran ${item.name}`));
        break;
      default:
        // Hidden context, end-of-turn and anything new take no space.
        wrap.hidden = true;
    }
    return wrap;
  }

  private renderStatus(busy: boolean): void {
    const state = this.current();
    const parts: HTMLElement[] = [];
    if (state.progress) parts.push(h("p", { class: "progress" }, state.progress));
    for (const notice of state.notices.splice(0)) {
      parts.push(h("p", { class: `notice ${notice.level}` }, notice.title ? `${notice.title}: ${notice.message}` : notice.message));
    }
    const error = state.error;
    if (error) {
      const p = h("p", { class: "notice danger error-message" }, error.message);
      if (error.allowRetry) p.append(" ", h("button", { type: "button", class: "link", onclick: () => this.handlers.retry() }, "Retry"));
      parts.push(p);
    }
    if (parts.length || !busy) this.status.replaceChildren(...parts);
  }

  private onClick(e: Event): void {
    const target = e.target as HTMLElement;
    if (target.classList.contains("copy")) {
      const code = target.closest(".code")?.querySelector("code")?.textContent || "";
      void navigator.clipboard?.writeText(code).then(() => (target.textContent = "Copied"), () => undefined);
    }
  }
}

function workflowSummary(workflow: Obj): string {
  const summary = workflow.summary;
  if (summary && typeof summary.title === "string") return summary.title;
  if (summary && typeof summary.duration === "number") {
    const seconds = summary.duration;
    const verb = workflow.type === "reasoning" ? "Thought" : "Worked";
    return seconds < 1 ? `${verb} for less than a second` : `${verb} for ${seconds} s`;
  }
  return workflow.type === "reasoning" ? "Thinking…" : "Working…";
}

/** A workflow: its steps (running, done or failed) under a summary that opens and closes. */
function renderWorkflow(workflow: Obj | undefined): HTMLElement {
  const tasks: Obj[] = workflow?.tasks || [];
  const running = !workflow?.summary;
  const steps = tasks.map((t) => {
    const state = t.status_indicator === "loading" ? "loading" : t.status_indicator === "complete" ? "complete" : "none";
    const failed = t.icon === "info" && state === "complete";
    return h("li", { class: `step ${failed ? "failed" : state}` },
      h("span", { class: "step-mark", "aria-hidden": "true" }, state === "loading" ? "" : failed ? "!" : state === "complete" ? "✓" : "•"),
      h("span", { class: "step-title" }, String(t.title || t.content || t.type)),
      t.title && t.content ? h("span", { class: "step-detail" }, String(t.content)) : "");
  });
  return h("details", { class: "workflow", open: running || workflow?.expanded ? "" : undefined },
    h("summary", {}, workflowSummary(workflow || {}), running ? "" : h("span", { class: "step-count" }, ` · ${tasks.length === 1 ? "1 step" : `${tasks.length} steps`}`)),
    h("ul", { class: "steps" }, ...steps));
}

const WEB_LINK = /^https?:\/\//i;

/** The sources an answer cites (pages) or that its tools found (chats), each once. */
function renderSources(annotations: Obj[], openChat: (threadId: string) => void): HTMLElement | null {
  const seen = new Set<string>();
  const rows: HTMLElement[] = [];
  for (const annotation of annotations) {
    const source = annotation?.source;
    if (!source) continue;
    const key = source.type === "url" ? source.url : source.type === "entity" ? source.id : source.filename;
    if (!key || seen.has(key)) continue;
    seen.add(key);
    const title = String(source.title || key);
    if (source.type === "url" && WEB_LINK.test(String(source.url))) {
      const host = new URL(String(source.url)).host;
      rows.push(h("li", {}, h("a", { href: String(source.url), target: "_blank", rel: "noopener noreferrer", title: String(source.url) }, title), h("span", { class: "source-host" }, host)));
    } else if (source.type === "entity" && source.data?.type === "chat" && source.data.thread_id) {
      rows.push(h("li", {}, h("button", { type: "button", class: "link source-chat", onclick: () => openChat(String(source.data.thread_id)) }, title),
        source.timestamp ? h("span", { class: "source-host" }, String(source.timestamp)) : ""));
    } else {
      rows.push(h("li", {}, h("span", {}, title)));
    }
  }
  if (!rows.length) return null;
  return h("details", { class: "sources", open: "" }, h("summary", {}, rows.length === 1 ? "1 source" : `${rows.length} sources`), h("ul", {}, ...rows));
}
