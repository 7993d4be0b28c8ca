// The composer: the message box, Send/Stop, and attachments (two-phase uploads with chips).
import type { AttachmentLimits } from "../chatkit-mode";
import { h } from "./dom";
import { icon } from "./icons";
import { type Entity, searchEntities } from "./mentions";
import type { ChatKitApi, Obj } from "./protocol";

interface PendingAttachment {
  id: string;
  name: string;
  mime: string;
  previewUrl?: string;
}

// "@" and the word being typed right before the caret.
const MENTION = /(^|\s)@([^\s@]{0,40})$/;

export interface ComposerHandlers {
  submit: (text: string, attachmentIds: string[], tags: Entity[]) => void;
  problem: (message: string) => void;
}

export class Composer {
  private attachments: PendingAttachment[] = [];
  private tags: Entity[] = [];
  private suggestions: Entity[] = [];
  private active = 0;
  private mentionSeq = 0;
  private mentionTimer = 0;
  private picker = h("ul", { class: "mention-picker", role: "listbox", id: "mention-picker", "aria-label": "Mention a chat or file", hidden: true });
  readonly input = h("textarea", { rows: 1, placeholder: "Message", "aria-label": "Message" });
  private send = h("button", { type: "submit", class: "primary send", "aria-label": "Send" }, "Send");
  private chips = h("div", { class: "chips", "aria-label": "Attachments" });
  private file = h("input", { type: "file", multiple: true, hidden: true });
  readonly element: HTMLFormElement;

  constructor(private api: ChatKitApi, limits: AttachmentLimits, private handlers: ComposerHandlers, pickers?: HTMLElement) {
    this.file.accept = Object.entries(limits.accept).flatMap(([mime, ext]) => [mime, ...ext]).join(",");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", "mention-picker");
    this.element = h(
      "form",
      { class: "composer", onsubmit: (e: Event) => { e.preventDefault(); this.submit(); } },
      this.picker,
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
      if (!this.picker.hidden && this.pickerKey(e)) return;
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.autosize();
      window.clearTimeout(this.mentionTimer);
      this.mentionTimer = window.setTimeout(() => void this.suggest(), 120);
    });
    this.input.addEventListener("blur", () => window.setTimeout(() => this.closePicker(), 150));
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
    this.handlers.submit(text, ids, [...this.tags]);
  }

  // ---------------------------------------------------------------- @ mentions

  private async suggest(): Promise<void> {
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    const match = MENTION.exec(before);
    if (!match) {
      this.closePicker();
      return;
    }
    const seq = ++this.mentionSeq;
    const found = await searchEntities(match[2]);
    if (seq !== this.mentionSeq) return;
    this.suggestions = found.filter((e) => !this.tags.some((t) => t.id === e.id));
    this.active = 0;
    this.renderPicker();
  }

  private renderPicker(): void {
    this.picker.hidden = !this.suggestions.length;
    this.picker.replaceChildren(...this.suggestions.map((entity, i) =>
      h("li", {
        role: "option", id: `mention-${i}`, "aria-selected": String(i === this.active), class: "mention-option",
        onmousedown: (e: Event) => { e.preventDefault(); this.choose(entity); },
      }, h("span", { class: "mention-title" }, entity.title), h("span", { class: "mention-group" }, entity.group || ""))));
    if (this.suggestions.length) this.input.setAttribute("aria-activedescendant", `mention-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  private pickerKey(e: KeyboardEvent): boolean {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const step = e.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.suggestions.length) % this.suggestions.length;
      this.renderPicker();
    } else if ((e.key === "Enter" || e.key === "Tab") && this.suggestions[this.active]) {
      this.choose(this.suggestions[this.active]);
    } else if (e.key === "Escape") {
      this.closePicker();
    } else {
      return false;
    }
    e.preventDefault();
    e.stopPropagation();
    return true;
  }

  private choose(entity: Entity): void {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, caret).replace(MENTION, (_m, space: string) => space);
    this.input.value = before + this.input.value.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.tags.push(entity);
    this.closePicker();
    this.renderChips();
    this.input.focus();
  }

  private closePicker(): void {
    this.mentionSeq++;
    this.suggestions = [];
    this.picker.hidden = true;
    this.input.removeAttribute("aria-activedescendant");
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
    this.tags = [];
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
    this.chips.replaceChildren(
      ...this.tags.map((t) =>
        h("span", { class: "chip tag" }, `@${t.title}`,
          h("button", { type: "button", class: "icon", "aria-label": `Remove the mention of ${t.title}`, onclick: () => this.dropTag(t.id) }, icon("close")))),
      ...this.attachments.map((a) =>
        h("span", { class: "chip" },
          a.previewUrl ? h("img", { src: a.previewUrl, alt: "" }) : "",
          a.name,
          h("button", { type: "button", class: "icon", "aria-label": `Remove ${a.name}`, onclick: () => this.drop(a.id) }, icon("close")))),
    );
  }

  private dropTag(id: string): void {
    this.tags = this.tags.filter((t) => t.id !== id);
    this.renderChips();
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
