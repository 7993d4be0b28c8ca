// The sidebar: the paged list of conversations, each with a menu (rename, export, delete), and
// search across the words of every chat (the server's full-text index), whose results open the
// chat at the match.
import { h } from "./dom";
import { icon } from "./icons";
import type { ChatKitApi, Page, ThreadMeta } from "./protocol";

const PAGE = 30;

/** The history's first page, asked for as early as the page likes (the launch serves it before
 * the rest of the app); a HistoryPanel takes it instead of asking again. */
export function firstHistoryPage(api: ChatKitApi): Promise<Page<ThreadMeta>> {
  const page = api.call<Page<ThreadMeta>>("threads.list", { limit: PAGE, order: "desc" });
  page.catch(() => undefined); // whoever takes it reports a failure; unused, it is no error
  return page;
}

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
  private openMenu: { row: HTMLElement; close: () => void } | null = null;
  private renaming: { id: string; input: HTMLInputElement } | null = null;
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

  async load(append: boolean, asked?: Promise<Page<ThreadMeta>>): Promise<void> {
    try {
      const page = await (asked ?? this.api.call<Page<ThreadMeta>>("threads.list", {
        limit: PAGE, order: "desc", ...(append && this.after ? { after: this.after } : {}),
      }));
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
    this.closeMenu();
    const searching = this.searching;
    this.results.hidden = !searching;
    this.searchNote.hidden = !searching;
    this.list.hidden = searching;
    // Redrawing replaces the rows; whatever had focus in one gets it back in its new row.
    const active = document.activeElement;
    const row = active instanceof HTMLElement && this.list.contains(active) ? active.closest("li") : null;
    const control = row && active ? Array.from(row.children).indexOf(active as Element) : -1;
    this.list.replaceChildren(...this.threads.map((t) => this.row(t)));
    if (row?.dataset.id) {
      const again = this.list.querySelector(`li[data-id="${CSS.escape(row.dataset.id)}"]`);
      (again?.children[control] as HTMLElement | undefined)?.focus();
    }
    this.more.hidden = searching || !this.hasMore;
  }

  private row(thread: ThreadMeta): HTMLLIElement {
    const current = this.handlers.currentId() === thread.id;
    const title = thread.title || "New chat";
    const attrs = { class: current ? "current" : "", "data-id": thread.id };
    if (this.renaming?.id === thread.id) return h("li", attrs, this.renaming.input);
    // One menu button per row, so the title keeps the sidebar's width; the full title shows on hover.
    return h("li", attrs,
      h("button", { type: "button", class: "thread-title", title, "aria-current": current ? "true" : undefined, onclick: () => this.handlers.open(thread.id) }, title),
      h("button", { type: "button", class: "icon row-menu", "aria-label": `Actions for ${title}`, "aria-haspopup": "menu", "aria-expanded": "false", onclick: (e: Event) => this.actionsMenu(e, thread) }, icon("more")),
    );
  }

  /** The chat's actions, under its row; a click elsewhere or Escape closes them, arrows move between them. */
  private actionsMenu(event: Event, thread: ThreadMeta): void {
    const button = event.currentTarget as HTMLElement;
    const row = button.closest("li");
    const wasOpen = this.openMenu?.row === row;
    this.closeMenu();
    if (!row || wasOpen) return;
    const title = thread.title || "New chat";
    const download = (format: string, label: string) => {
      const query = new URLSearchParams({ format, thread: thread.id });
      return h("a", { role: "menuitem", href: `/api/data/export?${query}`, download: "", onclick: () => this.closeMenu() }, label);
    };
    const act = (label: string, verb: string, run: () => Promise<void>, danger = false) =>
      h("button", { type: "button", role: "menuitem", class: danger ? "danger" : "", onclick: () => {
        this.closeMenu();
        run().catch((e: Error) => this.handlers.problem(`Couldn't ${verb} “${title}”: ${e.message}`));
      } }, label);
    const menu = h("li", { class: "row-actions", role: "menu", "aria-label": `Actions for ${title}` },
      act("Rename…", "rename", async () => this.startRename(thread)),
      download("markdown", "Export as Markdown"),
      download("json", "Export as JSON"),
      act("Delete…", "delete", () => this.remove(thread), true));
    const items = () => Array.from(menu.querySelectorAll<HTMLElement>("[role=menuitem]"));
    const outside = (e: Event) => {
      if (!menu.contains(e.target as Node) && !row.contains(e.target as Node)) this.closeMenu();
    };
    const keys = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.closeMenu();
        button.focus();
      } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && menu.contains(document.activeElement)) {
        e.preventDefault();
        const all = items();
        const at = all.indexOf(document.activeElement as HTMLElement);
        all[(at + (e.key === "ArrowDown" ? 1 : all.length - 1)) % all.length].focus();
      }
    };
    row.after(menu);
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    document.addEventListener("keydown", keys, true);
    this.openMenu = {
      row,
      close: () => {
        menu.remove();
        button.setAttribute("aria-expanded", "false");
        document.removeEventListener("click", outside, true);
        document.removeEventListener("keydown", keys, true);
      },
    };
    items()[0].focus();
  }

  private closeMenu(): void {
    this.openMenu?.close();
    this.openMenu = null;
  }

  /** Rename in place: Enter or leaving the field saves, Escape keeps the old title. */
  private startRename(thread: ThreadMeta): void {
    const title = thread.title || "";
    const input = h("input", { type: "text", class: "rename", value: title, maxlength: "200", "aria-label": `Rename ${thread.title || "New chat"}` });
    const finish = (save: boolean, byKey: boolean) => {
      if (this.renaming?.input !== input) return;
      this.renaming = null;
      const wanted = input.value.trim();
      this.render();
      // Leaving by a click keeps focus where the click put it.
      if (byKey) this.focusMenuButton(thread.id);
      if (save && wanted && wanted !== title) {
        this.rename(thread, wanted).catch((e: Error) => this.handlers.problem(`Couldn't rename “${title || "New chat"}”: ${e.message}`));
      }
    };
    input.addEventListener("keydown", (e: KeyboardEvent) => {
      if (e.key === "Enter") finish(true, true);
      else if (e.key === "Escape") finish(false, true);
      else return;
      e.preventDefault();
      e.stopPropagation();
    });
    // A redraw while typing (a reply elsewhere moves a chat up) moves the field and gives it focus
    // back, so only a blur that lasts is the user leaving.
    input.addEventListener("blur", () => {
      window.setTimeout(() => {
        if (document.activeElement !== input) finish(true, false);
      }, 0);
    });
    this.renaming = { id: thread.id, input };
    this.render();
    input.focus();
    input.select();
  }

  private focusMenuButton(threadId: string): void {
    (this.list.querySelector(`li[data-id="${CSS.escape(threadId)}"] .row-menu`) as HTMLElement | null)?.focus();
  }

  private async rename(thread: ThreadMeta, title: string): Promise<void> {
    const updated = await this.api.call<ThreadMeta>("threads.update", { thread_id: thread.id, title });
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
