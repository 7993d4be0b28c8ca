// The default-model fields (Settings' and the assistant form's): the provider's models to choose
// from (a datalist: typing any name stays possible), and under a field whose model shuts down,
// the date and one click to its replacement.
import { h } from "../chat/dom";
import { loadOffer, type Retiring, shutdownWords } from "../chat/choices";

export class ModelAdvice {
  private retiring: Record<string, Retiring> = {};
  private models: string[] = [];
  private notes: (() => void)[] = [];

  constructor(private datalist: HTMLElement) {}

  /** Shutdown dates (and, until Settings fetches its own, the models) from the composer's offer. */
  async load(): Promise<void> {
    const offer = await loadOffer();
    this.retiring = offer.retiring;
    if (!this.models.length) this.list(offer.models);
    else this.update();
  }

  /** The provider's models, each with its shutdown date when it has one. */
  list(models: string[], retiring?: Record<string, Retiring>): void {
    this.models = models;
    if (retiring) this.retiring = retiring;
    this.datalist.replaceChildren(...models.map((m) => {
      const option = h("option", { value: m });
      const when = shutdownWords(this.retiring, m);
      if (when) option.label = `${m} · ${when}`;
      return option;
    }));
    this.update();
  }

  /** "gpt-5-mini shuts down on 11 Dec 2026. [Use gpt-6.1-terra]" under `input`, kept current.
   * The button fills in the replacement, and `commit` (when given) saves it at once. */
  attach(input: HTMLInputElement, commit?: (model: string) => Promise<void>): HTMLElement {
    const text = h("span", {});
    const button = h("button", { type: "button", class: "link" });
    const note = h("p", { class: "retiring hint", role: "status", hidden: true }, text, " ", button);
    const show = () => {
      const model = input.value.trim();
      const when = shutdownWords(this.retiring, model);
      const replacement = this.retiring[model]?.replacement;
      note.hidden = !when;
      text.textContent = when ? `${model} ${when}.` : "";
      button.hidden = !replacement;
      button.textContent = replacement ? `Use ${replacement}` : "";
    };
    button.addEventListener("click", async () => {
      const replacement = this.retiring[input.value.trim()]?.replacement;
      if (!replacement) return;
      input.value = replacement;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
      try {
        await commit?.(replacement);
      } catch (e) {
        note.hidden = false;
        text.textContent = `Couldn't save ${replacement}: ${(e as Error).message}`;
      }
    });
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    this.notes.push(show);
    show();
    return note;
  }

  /** `redraw` runs whenever the dates arrive or change (a list that shows them). */
  watch(redraw: () => void): void {
    this.notes.push(redraw);
  }

  /** Fields set from code (a loaded form) fire no events: their notes are redrawn here. */
  update(): void {
    for (const show of this.notes) show();
  }

  /** What replaces `model` when it shuts down, if anything is known to. */
  replacement(model: string | null): string | null {
    return (model && this.retiring[model]?.replacement) || null;
  }

  /** For lists: " · shuts down on 11 Dec 2026", or "". */
  suffix(model: string | null): string {
    const when = shutdownWords(this.retiring, model);
    return when ? ` · ${when}` : "";
  }
}
