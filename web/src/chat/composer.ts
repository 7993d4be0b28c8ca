// The composer: the message box, Send/Stop, and attachments (two-phase uploads with chips).
import type { AttachmentLimits } from "../chatkit-mode";
import { h } from "./dom";
import { icon } from "./icons";
import type { ChatKitApi, Obj } from "./protocol";

interface PendingAttachment {
  id: string;
  name: string;
  mime: string;
  previewUrl?: string;
}

export interface ComposerHandlers {
  submit: (text: string, attachmentIds: string[]) => void;
  problem: (message: string) => void;
}

export class Composer {
  private attachments: PendingAttachment[] = [];
  readonly input = h("textarea", { rows: 1, placeholder: "Message", "aria-label": "Message" });
  private send = h("button", { type: "submit", class: "primary send", "aria-label": "Send" }, "Send");
  private chips = h("div", { class: "chips", "aria-label": "Attachments" });
  private file = h("input", { type: "file", multiple: true, hidden: true });
  readonly element: HTMLFormElement;

  constructor(private api: ChatKitApi, limits: AttachmentLimits, private handlers: ComposerHandlers, pickers?: HTMLElement) {
    this.file.accept = Object.entries(limits.accept).flatMap(([mime, ext]) => [mime, ...ext]).join(",");
    this.element = h(
      "form",
      { class: "composer", onsubmit: (e: Event) => { e.preventDefault(); this.submit(); } },
      this.chips,
      h("div", { class: "composer-row" },
        h("button", { type: "button", class: "attach", "aria-label": "Attach files", onclick: () => this.file.click() }, icon("attach")),
        this.input,
        this.send,
      ),
      pickers ?? "",
      this.file,
    );
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.autosize());
    this.file.addEventListener("change", () => void this.attachFiles());
  }

  focus(): void {
    this.input.focus();
  }

  setBusy(busy: boolean): void {
    this.send.textContent = busy ? "Stop" : "Send";
    this.send.setAttribute("aria-label", busy ? "Stop" : "Send");
    this.send.classList.toggle("stop", busy);
  }

  private submit(): void {
    const text = this.input.value.trim();
    const ids = this.attachments.map((a) => a.id);
    // While a reply streams the button is Stop; the view decides what a submit means.
    this.handlers.submit(text, ids);
  }

  /** Puts back the text of a message the server refused, unless something new was typed. */
  restore(text: string): void {
    if (this.input.value.trim()) return;
    this.input.value = text;
    this.autosize();
  }

  /** Empties the box and the chips once their message is on its way. */
  clear(): void {
    this.input.value = "";
    this.attachments = [];
    this.renderChips();
    this.autosize();
  }

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
        this.handlers.problem(`${file.name}: ${(e as Error).message}`);
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
        h("button", { type: "button", class: "icon", "aria-label": `Remove ${a.name}`, onclick: () => this.drop(a.id) }, icon("close"))),
    ));
  }

  private drop(id: string): void {
    this.attachments = this.attachments.filter((a) => a.id !== id);
    void this.api.call("attachments.delete", { attachment_id: id }).catch(() => undefined);
    this.renderChips();
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }
}
