// The sidebar: the paged list of conversations with rename and delete, and search across the
// words of every chat (the server's full-text index), whose results open the chat at the match.
import { h } from "./dom";
import { icon } from "./icons";
import type { ChatKitApi, Page, ThreadMeta } from "./protocol";

const PAGE = 30;

interface SearchResult {
  thread_id: string;
  title: string | null;
  item_id: string | null;
  role: string | null;
  created_at: string;
  excerpt: { text: string; match: boolean }[];
}

const SEARCH_DELAY_MS = 200;

export interface HistoryHandlers {
  open: (threadId: string, itemId?: string | null) => void;
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
  private filter = h("input", { type: "search", placeholder: "Search chats", "aria-label": "Search all chats" });
  private results = h("ul", { class: "threads search-results", "aria-label": "Search results", hidden: true });
  private searchNote = h("p", { class: "hint search-note", role: "status", hidden: true });
  private searchTimer = 0;
  private searchSeq = 0;
  readonly element = h("aside", { class: "sidebar" },
    h("button", { type: "button", class: "primary new-chat", onclick: () => this.handlers.newChat() }, "New chat"),
    this.filter, this.searchNote, this.results, this.list, this.more);

  constructor(private api: ChatKitApi, private handlers: HistoryHandlers) {
    this.filter.addEventListener("input", () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.search(), SEARCH_DELAY_MS);
    });
    this.filter.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.filter.value) {
        e.stopPropagation();
        this.filter.value = "";
        void this.search();
      }
    });
  }

  private get searching(): boolean {
    return this.filter.value.trim() !== "";
  }

  private async search(): Promise<void> {
    const query = this.filter.value.trim();
    const seq = ++this.searchSeq;
    if (!query) {
      this.render();
      return;
    }
    try {
      const response = await fetch(`/api/search?${new URLSearchParams({ q: query, limit: "30" })}`);
      const body = await response.json();
      if (seq !== this.searchSeq) return; // a newer search is under way
      if (!response.ok) throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      this.showResults(body.results as SearchResult[]);
    } catch (e) {
      if (seq === this.searchSeq) this.handlers.problem(`Search failed: ${(e as Error).message}`);
    }
  }

  private showResults(results: SearchResult[]): void {
    this.searchNote.textContent = results.length ? `${results.length === 1 ? "1 chat" : `${results.length} chats`} found` : "No chats match.";
    this.results.replaceChildren(...results.map((r) => {
      const excerpt = h("span", { class: "excerpt" }, ...r.excerpt.map((part) => (part.match ? h("mark", {}, part.text) : part.text)));
      return h("li", {},
        h("button", { type: "button", class: "search-hit", onclick: () => this.handlers.open(r.thread_id, r.item_id) },
          h("span", { class: "hit-title" }, r.title || "New chat"), excerpt));
    }));
    this.render();
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

  /** A title saved after the list was drawn. */
  retitle(threadId: string, title: string): void {
    this.threads = this.threads.map((t) => (t.id === threadId ? { ...t, title } : t));
    this.render();
  }

  render(): void {
    const searching = this.searching;
    this.results.hidden = !searching;
    this.searchNote.hidden = !searching;
    this.list.hidden = searching;
    this.list.replaceChildren(...this.threads.map((t) => this.row(t)));
    this.more.hidden = searching || !this.hasMore;
  }

  private row(thread: ThreadMeta): HTMLLIElement {
    const current = this.handlers.currentId() === thread.id;
    const title = thread.title || "New chat";
    return h("li", { class: current ? "current" : "" },
      h("button", { type: "button", class: "thread-title", "aria-current": current ? "true" : undefined, onclick: () => this.handlers.open(thread.id) }, title),
      h("button", { type: "button", class: "icon", "aria-label": `Export ${title}`, "aria-haspopup": "menu", onclick: (e: Event) => this.exportMenu(e, thread) }, icon("download")),
      h("button", { type: "button", class: "icon", "aria-label": `Rename ${title}`, onclick: () => void this.rename(thread) }, icon("edit")),
      h("button", { type: "button", class: "icon", "aria-label": `Delete ${title}`, onclick: () => void this.remove(thread) }, icon("trash")),
    );
  }

  /** The chat's export choices, under its row; a click elsewhere or Escape closes them. */
  private exportMenu(event: Event, thread: ThreadMeta): void {
    const row = (event.currentTarget as HTMLElement).closest("li");
    const open = this.element.querySelector(".export-menu");
    open?.remove();
    if (!row || open?.previousElementSibling === row) return;
    const link = (format: string, label: string) => {
      const query = new URLSearchParams({ format, thread: thread.id });
      return h("a", { role: "menuitem", href: `/api/data/export?${query}`, download: "", onclick: () => close() }, label);
    };
    const menu = h("li", { class: "export-menu", role: "menu", "aria-label": `Export ${thread.title || "New chat"}` },
      link("markdown", "Export as Markdown"), link("json", "Export as JSON"));
    const close = () => {
      menu.remove();
      document.removeEventListener("click", outside, true);
      document.removeEventListener("keydown", escape, true);
    };
    const outside = (e: Event) => {
      if (!menu.contains(e.target as Node) && !row.contains(e.target as Node)) close();
    };
    const escape = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        close();
        (row.querySelector("[aria-haspopup]") as HTMLElement | null)?.focus();
      }
    };
    row.after(menu);
    document.addEventListener("click", outside, true);
    document.addEventListener("keydown", escape, true);
    (menu.querySelector("a") as HTMLElement).focus();
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
