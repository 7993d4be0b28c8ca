// The sidebar: the paged list of conversations, with filter, rename and delete.
import { h } from "./dom";
import { icon } from "./icons";
import type { ChatKitApi, Page, ThreadMeta } from "./protocol";

const PAGE = 30;

export interface HistoryHandlers {
  open: (threadId: string) => void;
  newChat: () => void;
  currentId: () => string | null;
  renamed: (thread: ThreadMeta) => void;
  deleted: (threadId: string) => void;
  problem: (message: string) => void;
}

export class HistoryPanel {
  private threads: ThreadMeta[] = [];
  private after: string | null = null;
  private hasMore = false;
  private list = h("ul", { class: "threads", "aria-label": "Conversations" });
  private more = h("button", { type: "button", class: "link", onclick: () => void this.load(true) }, "Load more");
  private filter = h("input", { type: "search", placeholder: "Filter by title", "aria-label": "Filter conversations by title" });
  readonly element = h("aside", { class: "sidebar" },
    h("button", { type: "button", class: "primary new-chat", onclick: () => this.handlers.newChat() }, "New chat"),
    this.filter, this.list, this.more);

  constructor(private api: ChatKitApi, private handlers: HistoryHandlers) {
    this.filter.addEventListener("input", () => this.render());
  }

  async load(append: boolean): Promise<void> {
    try {
      const page = await this.api.call<Page<ThreadMeta>>("threads.list", {
        limit: PAGE, order: "desc", ...(append && this.after ? { after: this.after } : {}),
      });
      this.threads = append ? [...this.threads, ...page.data] : page.data;
      this.after = page.after ?? null;
      this.hasMore = page.has_more;
      this.render();
    } catch (e) {
      this.handlers.problem(`Couldn't load the history: ${(e as Error).message}`);
    }
  }

  /** A thread that just had a turn moves to the top. */
  touch(thread: ThreadMeta): void {
    this.threads = [{ ...thread }, ...this.threads.filter((t) => t.id !== thread.id)];
    this.render();
  }

  render(): void {
    const needle = this.filter.value.trim().toLowerCase();
    const shown = this.threads.filter((t) => !needle || (t.title || "New chat").toLowerCase().includes(needle));
    this.list.replaceChildren(...shown.map((t) => this.row(t)));
    this.more.hidden = !this.hasMore;
  }

  private row(thread: ThreadMeta): HTMLLIElement {
    const current = this.handlers.currentId() === thread.id;
    const title = thread.title || "New chat";
    return h("li", { class: current ? "current" : "" },
      h("button", { type: "button", class: "thread-title", "aria-current": current ? "true" : undefined, onclick: () => this.handlers.open(thread.id) }, title),
      h("button", { type: "button", class: "icon", "aria-label": `Rename ${title}`, onclick: () => void this.rename(thread) }, icon("edit")),
      h("button", { type: "button", class: "icon", "aria-label": `Delete ${title}`, onclick: () => void this.remove(thread) }, icon("trash")),
    );
  }

  private async rename(thread: ThreadMeta): Promise<void> {
    const title = window.prompt("Rename conversation", thread.title || "");
    if (title === null || !title.trim()) return;
    const updated = await this.api.call<ThreadMeta>("threads.update", { thread_id: thread.id, title: title.trim() });
    this.threads = this.threads.map((t) => (t.id === thread.id ? { ...t, title: updated.title } : t));
    this.handlers.renamed({ ...thread, title: updated.title });
    this.render();
  }

  private async remove(thread: ThreadMeta): Promise<void> {
    if (!window.confirm(`Delete “${thread.title || "New chat"}”? This can't be undone.`)) return;
    await this.api.call("threads.delete", { thread_id: thread.id });
    this.threads = this.threads.filter((t) => t.id !== thread.id);
    this.handlers.deleted(thread.id);
    this.render();
  }
}
