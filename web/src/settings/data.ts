// Settings → Your data: export everything, import (importer.ts), backups (back up now, how
// many to keep, restore), the data folder, and deleting everything behind a typed confirmation.
import { h } from "../chat/dom";
import { ImportControl } from "./importer";
import { call } from "../request";

interface Backup { name: string; created: number; reason: string; size: number }

const ERASE_WORD = "delete";
// A notice that outlives the reload after a restore or an erase.
const NOTICE_KEY = "chatkit-desktop.data-notice";

// Decimal units, as file managers show them.
function size(bytes: number): string {
  if (bytes < 1e6) return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

function reasonText(reason: string): string {
  if (reason === "daily") return "Daily";
  if (reason === "manual") return "Made by you";
  if (reason === "before-restore") return "Before a restore";
  if (reason.startsWith("before-")) return "Before an update";
  return reason || "Backup";
}

function when(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}


/** Export links for all chats or one (`thread`): the browser or the window saves the file. */
export function exportLink(format: "json" | "markdown", label: string, thread?: string): HTMLAnchorElement {
  const query = new URLSearchParams({ format, ...(thread ? { thread } : {}) });
  return h("a", { class: "button", href: `/api/data/export?${query}`, download: "" }, label);
}

/** Shows (once) what a restore or an erase did before the page reloaded. */
export function takeNotice(): string | null {
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return notice;
}

function reloadWith(notice: string): void {
  sessionStorage.setItem(NOTICE_KEY, notice);
  window.location.reload();
}

export class DataPanel {
  private backups: Backup[] = [];
  private importer: ImportControl;
  private list = h("ul", { class: "server-list backup-list", "aria-label": "Backups" });
  private keep = h("input", { type: "number", min: 1, max: 100, id: "backups-keep", class: "keep" });
  private backupStatus = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  private failure = h("p", { class: "error", role: "alert" });
  private folderStatus = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  private eraseWord = h("input", { id: "erase-word", autocomplete: "off", spellcheck: "false" });
  private eraseButton = h("button", { type: "button", class: "danger", disabled: true, onclick: () => void this.erase() }, "Delete everything");
  private eraseStatus = h("p", { class: "error", role: "alert" });
  private eraseForm = h("div", { class: "erase-confirm", hidden: true, role: "group", "aria-labelledby": "erase-title" },
    h("p", { id: "erase-title" }, h("strong", {}, "This deletes every chat, attached file and backup, your MCP servers, your settings and the saved API key."),
      " The app then starts over as on first launch. Export first if you may want any of it back."),
    h("label", { for: "erase-word" }, "Type ", h("kbd", {}, ERASE_WORD), " to confirm"),
    this.eraseWord,
    h("div", { class: "actions" }, this.eraseButton,
      h("button", { type: "button", onclick: () => this.closeErase() }, "Keep my data")),
    this.eraseStatus);
  readonly element: HTMLElement;

  constructor(imported: () => void) {
    this.importer = new ImportControl(imported);
    this.element = h("section", { class: "assistants data", "aria-labelledby": "data-title" },
      h("h3", { id: "data-title" }, "Your data"),
      h("p", { class: "hint" }, "Everything stays on this computer. Take it with you, bring chats in, and go back to an earlier state."),
      h("h4", {}, "Export"),
      h("div", { class: "actions" },
        exportLink("markdown", "All chats as Markdown (.zip)"),
        exportLink("json", "All chats as JSON")),
      h("p", { class: "hint" }, "Markdown is for reading. JSON keeps everything and can be imported again, here or on another computer. One chat: use the ⋯ menu beside it in the chat list."),
      h("h4", {}, "Import"),
      this.importer.element,
      h("h4", {}, "Backups"),
      h("p", { class: "hint" }, "Made once a day while the app runs, and before every update that changes how chats are stored. Restoring first backs up what is here now, so a restore can be undone."),
      h("div", { class: "actions backup-actions" },
        h("button", { type: "button", onclick: () => void this.backupNow() }, "Back up now"),
        h("label", { class: "keep-label", for: "backups-keep" }, "Keep the last", this.keep, "backups")),
      this.failure, this.backupStatus, this.list,
      h("h4", {}, "Data folder"),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => void this.openFolder() }, "Open data folder")),
      this.folderStatus,
      h("h4", {}, "Delete all data"),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => this.openErase() }, "Delete all data…")),
      this.eraseForm);
    this.keep.addEventListener("change", () => void this.saveKeep());
    this.eraseWord.addEventListener("input", () => {
      this.eraseButton.disabled = this.eraseWord.value.trim().toLowerCase() !== ERASE_WORD;
    });
    this.eraseWord.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !this.eraseButton.disabled) void this.erase();
      if (e.key === "Escape") this.closeErase();
    });
  }

  async load(): Promise<void> {
    try {
      const body = await call("/api/backups");
      this.backups = body.backups;
      this.keep.value = String(body.keep);
      this.failure.textContent = body.last_failure ? `The last automatic backup failed: ${body.last_failure}` : "";
      this.render();
      // The list grows above the delete confirmation; one opened before it arrived would be
      // pushed out of sight while the user is typing into it.
      if (this.eraseForm.contains(document.activeElement)) this.eraseForm.scrollIntoView({ block: "nearest" });
    } catch (e) {
      this.backupStatus.textContent = `Couldn't list the backups: ${(e as Error).message}`;
    }
  }

  private render(): void {
    if (!this.backups.length) {
      this.list.replaceChildren(h("li", { class: "empty" }, "No backups yet."));
      return;
    }
    this.list.replaceChildren(...this.backups.map((b) => h("li", { class: "backup" },
      h("div", { class: "assistant-text" },
        h("strong", {}, when(b.created)),
        h("span", { class: "badge" }, reasonText(b.reason)),
        h("span", { class: "hint" }, size(b.size))),
      h("div", { class: "assistant-actions" },
        h("button", { type: "button", "aria-label": `Restore the backup from ${when(b.created)}`, onclick: () => void this.restore(b) }, "Restore")))));
  }

  private async backupNow(): Promise<void> {
    this.backupStatus.className = "hint";
    this.backupStatus.textContent = "Backing up…";
    try {
      const made = await call("/api/backups", { method: "POST" });
      this.backupStatus.className = "ok";
      this.backupStatus.textContent = `Backed up (${size(made.size)}).`;
      await this.load();
    } catch (e) {
      this.backupStatus.className = "bad";
      this.backupStatus.textContent = (e as Error).message;
    }
  }

  private async saveKeep(): Promise<void> {
    const keep = Number(this.keep.value);
    try {
      await call("/api/settings", { method: "PUT", body: JSON.stringify({ settings: { backups_keep: keep } }) });
      this.backupStatus.className = "ok";
      this.backupStatus.textContent = `The last ${keep} backups are kept.`;
    } catch (e) {
      this.backupStatus.className = "bad";
      this.backupStatus.textContent = (e as Error).message;
    }
  }

  private async restore(backup: Backup): Promise<void> {
    const question = `Restore the backup from ${when(backup.created)}?\n\nYour chats, files and settings become exactly what they were then. What is here now is backed up first, so you can go back.`;
    if (!window.confirm(question)) return;
    this.backupStatus.className = "hint";
    this.backupStatus.textContent = "Restoring…";
    try {
      await call("/api/backups/restore", { method: "POST", body: JSON.stringify({ name: backup.name }) });
      reloadWith(`Restored the backup from ${when(backup.created)}. What was here before is the newest backup in Settings → Your data, if you want it back.`);
    } catch (e) {
      this.backupStatus.className = "bad";
      this.backupStatus.textContent = (e as Error).message;
    }
  }

  private async openFolder(): Promise<void> {
    try {
      await call("/api/data/open-folder", { method: "POST" });
      this.folderStatus.className = "hint";
      this.folderStatus.textContent = "";
    } catch (e) {
      this.folderStatus.className = "bad";
      this.folderStatus.textContent = (e as Error).message;
    }
  }

  private openErase(): void {
    this.eraseForm.hidden = false;
    this.eraseWord.value = "";
    this.eraseButton.disabled = true;
    this.eraseStatus.textContent = "";
    this.eraseForm.scrollIntoView({ block: "nearest" });
    this.eraseWord.focus({ preventScroll: true });
  }

  private closeErase(): void {
    this.eraseForm.hidden = true;
    this.eraseWord.value = "";
  }

  private async erase(): Promise<void> {
    this.eraseButton.disabled = true;
    try {
      await call("/api/data/erase", { method: "POST", body: JSON.stringify({ confirm: this.eraseWord.value }) });
      reloadWith("All data was deleted. Set the app up again to start chatting.");
    } catch (e) {
      this.eraseStatus.textContent = (e as Error).message;
      this.eraseButton.disabled = false;
    }
  }
}
