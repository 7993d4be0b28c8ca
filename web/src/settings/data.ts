// Settings → Your data: export everything, import (this app's JSON or a ChatGPT export) with a
// progress bar and cancel, backups (back up now, how many to keep, restore), the data folder, and
// deleting everything behind a typed confirmation.
import { h } from "../chat/dom";

type Obj = { [key: string]: any };

interface Backup { name: string; created: number; reason: string; size: number }
interface ImportJob {
  id: string;
  name: string;
  state: "uploading" | "importing" | "done" | "failed" | "cancelled";
  added: number;
  skipped: number;
  fraction: number;
  message: string | null;
}

const ERASE_WORD = "delete";
const POLL_MS = 250;
// A notice that outlives the reload after a restore or an erase.
const NOTICE_KEY = "chatkit-desktop.data-notice";

async function call(path: string, init: RequestInit = {}): Promise<Obj> {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...init });
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
  return body;
}

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

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
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
  private job: ImportJob | null = null;
  private upload: XMLHttpRequest | null = null;
  private pollTimer = 0;
  private file = h("input", { type: "file", accept: ".json,.zip,application/json,application/zip", hidden: true, "aria-label": "Choose a file to import" });
  private importButton = h("button", { type: "button", onclick: () => this.file.click() }, "Import…");
  private progress = h("progress", { max: 1, value: 0, "aria-label": "Import progress" });
  private progressText = h("span", { class: "hint" });
  private cancelButton = h("button", { type: "button", class: "link", onclick: () => void this.cancelImport() }, "Cancel");
  private progressRow = h("div", { class: "import-progress", hidden: true }, this.progress, this.progressText, this.cancelButton);
  private importStatus = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  private list = h("ul", { class: "server-list backup-list", "aria-label": "Backups" });
  private keep = h("input", { type: "number", min: 1, max: 100, id: "backups-keep", class: "keep" });
  private backupStatus = h("p", { class: "hint", role: "status", "aria-live": "polite" });
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

  constructor(private imported: () => void) {
    this.element = h("section", { class: "assistants data", "aria-labelledby": "data-title" },
      h("h3", { id: "data-title" }, "Your data"),
      h("p", { class: "hint" }, "Everything stays on this computer. Take it with you, bring chats in, and go back to an earlier state."),
      h("h4", {}, "Export"),
      h("div", { class: "actions" },
        exportLink("markdown", "All chats as Markdown (.zip)"),
        exportLink("json", "All chats as JSON")),
      h("p", { class: "hint" }, "Markdown is for reading. JSON keeps everything and can be imported again, here or on another computer. One chat: use the export button beside it in the chat list."),
      h("h4", {}, "Import"),
      h("div", { class: "actions" }, this.importButton, this.file),
      h("p", { class: "hint" }, "A ChatKit Desktop JSON export, or your ChatGPT data export (the .zip, or conversations.json from it). Chats already here are skipped."),
      this.progressRow, this.importStatus,
      h("h4", {}, "Backups"),
      h("p", { class: "hint" }, "Made once a day while the app runs, and before every update that changes how chats are stored. Restoring first backs up what is here now, so a restore can be undone."),
      h("div", { class: "actions backup-actions" },
        h("button", { type: "button", onclick: () => void this.backupNow() }, "Back up now"),
        h("label", { class: "keep-label", for: "backups-keep" }, "Keep the last", this.keep, "backups")),
      this.backupStatus, this.list,
      h("h4", {}, "Data folder"),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => void this.openFolder() }, "Open data folder")),
      this.folderStatus,
      h("h4", {}, "Delete all data"),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => this.openErase() }, "Delete all data…")),
      this.eraseForm);
    this.file.addEventListener("change", () => {
      const chosen = this.file.files?.[0];
      this.file.value = "";
      if (chosen) this.startImport(chosen);
    });
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
      this.render();
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

  // ---- import

  private showJob(text: string, fraction: number | null): void {
    this.progressRow.hidden = false;
    this.importButton.disabled = true;
    if (fraction === null) this.progress.removeAttribute("value");
    else this.progress.value = fraction;
    this.progressText.textContent = text;
    this.importStatus.textContent = "";
  }

  private endJob(text: string, ok: boolean): void {
    window.clearTimeout(this.pollTimer);
    this.progressRow.hidden = true;
    this.importButton.disabled = false;
    this.importStatus.className = ok ? "ok" : "bad";
    this.importStatus.textContent = text;
    this.job = null;
    this.upload = null;
  }

  private startImport(chosen: File): void {
    // XMLHttpRequest, not fetch: it reports how much of a large file has been sent.
    const xhr = new XMLHttpRequest();
    this.upload = xhr;
    this.showJob(`Reading ${chosen.name}…`, 0);
    this.progressRow.scrollIntoView({ block: "nearest" });
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) this.showJob(`Reading ${chosen.name}… ${Math.round((100 * e.loaded) / e.total)}%`, e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let body: Obj = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Shown as the status below.
      }
      if (xhr.status !== 200) {
        this.endJob((body.error && body.error.message) || `The import couldn't start (HTTP ${xhr.status}).`, false);
        return;
      }
      this.follow(body as ImportJob);
    });
    xhr.addEventListener("error", () => this.endJob("The file couldn't be sent to the app; nothing was imported.", false));
    xhr.addEventListener("abort", () => this.endJob("Cancelled; nothing was imported.", false));
    xhr.open("POST", "/api/data/import");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(chosen.name));
    xhr.send(chosen);
  }

  private follow(job: ImportJob): void {
    this.job = job;
    this.upload = null;
    if (job.state === "importing" || job.state === "uploading") {
      const counted = job.added + job.skipped;
      this.showJob(counted ? `Importing… ${plural(job.added, "chat")} added so far` : "Importing…", job.fraction);
      this.pollTimer = window.setTimeout(() => void this.poll(job.id), POLL_MS);
      return;
    }
    if (job.state === "done") {
      const already = job.skipped ? ` (${plural(job.skipped, "chat was", "chats were")} already here)` : "";
      this.endJob(`Imported ${plural(job.added, "chat")}${already}.`, true);
      this.imported();
      return;
    }
    this.endJob(job.message || "The import failed; nothing was imported.", false);
  }

  private async poll(id: string): Promise<void> {
    try {
      this.follow((await call(`/api/data/import/${id}`)) as ImportJob);
    } catch (e) {
      this.endJob(`Lost track of the import: ${(e as Error).message}`, false);
    }
  }

  private async cancelImport(): Promise<void> {
    if (this.upload) {
      this.upload.abort();
      return;
    }
    if (!this.job) return;
    this.cancelButton.disabled = true;
    try {
      await call(`/api/data/import/${this.job.id}`, { method: "DELETE" });
    } finally {
      this.cancelButton.disabled = false;
    }
  }
}
