// Settings → Your data → Import: the file's upload, then the import's progress (polled), and
// Cancel at either stage, which leaves nothing behind.
import { h } from "../chat/dom";
import { call, type Obj } from "../request";

interface ImportJob {
  id: string;
  name: string;
  state: "uploading" | "importing" | "done" | "failed" | "cancelled";
  added: number;
  skipped: number;
  fraction: number;
  message: string | null;
}

const POLL_MS = 250;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export class ImportControl {
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
  readonly element: HTMLElement;

  constructor(private imported: () => void) {
    this.element = h("div", { class: "importer" },
      h("div", { class: "actions" }, this.importButton, this.file),
      h("p", { class: "hint" }, "A ChatKit Desktop JSON export, or your ChatGPT data export (the .zip, or conversations.json from it). Chats already here are skipped."),
      this.progressRow, this.importStatus);
    this.file.addEventListener("change", () => {
      const chosen = this.file.files?.[0];
      this.file.value = "";
      if (chosen) this.startImport(chosen);
    });
  }

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
      // Chats sent meanwhile wait for the import's one transaction.
      this.showJob(`${counted ? `Importing… ${plural(job.added, "chat")} added so far` : "Importing…"}. Messages you send wait until it finishes.`, job.fraction);
      this.pollTimer = window.setTimeout(() => void this.poll(job.id), POLL_MS);
      return;
    }
    if (job.state === "done") {
      const already = job.skipped ? ` (${plural(job.skipped, "chat was", "chats were")} already here)` : "";
      // What it left out (files over the upload rules, images a zip inflated past its caps).
      const leftOut = job.message ? ` ${job.message}` : "";
      this.endJob(`Imported ${plural(job.added, "chat")}${already}.${leftOut}`, true);
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
