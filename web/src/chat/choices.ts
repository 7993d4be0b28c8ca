// What the composer offers (assistants and the provider's models) and a chat's remembered
// choice. Both chat interfaces use these: the built-in composer as two pickers, OpenAI's
// component as `composer.tools` and `composer.models`.
import { h } from "./dom";
import type { Obj } from "./protocol";

export const ASSISTANT_PREFIX = "assistant:";

export interface AssistantOption {
  id: string;
  name: string;
  model: string | null;
  builtin: boolean;
}

/** A model's announced shutdown (the provider's `shutdown_date`, else the app's table). */
export interface Retiring {
  shutdown_date: string;
  shutdown_words: string;
  replacement: string | null;
  retired: boolean;
}

export interface ComposerOffer {
  assistants: AssistantOption[];
  models: string[];
  default_model: string;
  models_listed: boolean;
  models_message: string;
  retiring: Record<string, Retiring>;
  // What a named model (Settings', an assistant's) really runs on now, when not itself.
  substitutes: Record<string, { model: string; notice: string | null }>;
}

export interface ChatChoice {
  assistant_id: string | null;
  model: string | null;
}

const EMPTY_OFFER: ComposerOffer = {
  assistants: [], models: [], default_model: "", models_listed: false, models_message: "", retiring: {}, substitutes: {},
};

/** "shuts down on 11 Dec 2026" (or "shut down on …" once past), or "" for a model with no date. */
export function shutdownWords(retiring: Record<string, Retiring>, model: string | null | undefined): string {
  const r = model ? retiring[model] : undefined;
  if (!r) return "";
  return `${r.retired ? "shut down" : "shuts down"} on ${r.shutdown_words}`;
}

/** The model a new chat runs on when `model` is named: itself, or what replaces it. */
export function effectiveModel(offer: ComposerOffer, model: string): string {
  return offer.substitutes?.[model]?.model || model;
}

export async function loadOffer(): Promise<ComposerOffer> {
  try {
    const response = await fetch("/api/composer");
    // Older answers lack the shutdown fields: they default to "nothing known".
    return response.ok ? { ...EMPTY_OFFER, ...((await response.json()) as Partial<ComposerOffer>) } : EMPTY_OFFER;
  } catch {
    return EMPTY_OFFER;
  }
}

export async function loadChoice(threadId: string): Promise<ChatChoice> {
  try {
    const response = await fetch(`/api/threads/${encodeURIComponent(threadId)}/choice`);
    if (response.ok) return (await response.json()) as ChatChoice;
  } catch {
    // a chat that can't be asked keeps the pickers as they are
  }
  return { assistant_id: null, model: null };
}

/** The built-in composer's pickers: which assistant answers, and with which model. */
export class Pickers {
  private offer: ComposerOffer = EMPTY_OFFER;
  readonly assistant = h("select", { class: "picker", "aria-label": "Assistant", title: "Assistant" });
  readonly model = h("select", { class: "picker", "aria-label": "Model", title: "Model" });
  // Says when the model in use shuts down, with one click to its replacement.
  private switchTo = h("button", { type: "button", class: "link", onclick: () => this.useReplacement() });
  readonly retiring = h("p", { class: "retiring hint", role: "status", hidden: true },
    h("span", {}), " ", this.switchTo);
  readonly element = h("div", { class: "pickers" }, this.assistant, this.model, this.retiring);

  constructor() {
    // Until the offer arrives (right after launch, the full app may still be loading): the
    // default model, and no empty assistant picker.
    this.set({ assistant_id: null, model: null });
    this.model.addEventListener("change", () => this.showRetiring());
    this.assistant.addEventListener("change", () => this.set({ assistant_id: this.assistant.value || null, model: this.model.value || null }));
  }

  async refresh(): Promise<void> {
    const keep = { assistant_id: this.assistant.value || null, model: this.model.value || null };
    this.offer = await loadOffer();
    this.set(keep);
  }

  /** Show a chat's choice (a new chat: the built-in assistant and the default model). */
  set(choice: ChatChoice): void {
    const builtin = this.offer.assistants.find((a) => a.builtin);
    const wanted = this.offer.assistants.find((a) => a.id === choice.assistant_id) || builtin;
    this.assistant.replaceChildren(...this.offer.assistants.map((a) => new Option(a.name, a.id, false, a === wanted)));
    this.assistant.hidden = this.offer.assistants.length < 2;
    const models = [...this.offer.models];
    if (choice.model && !models.includes(choice.model)) models.push(choice.model);
    const fallback = effectiveModel(this.offer, wanted?.model || this.offer.default_model);
    const label = (m: string) => {
      const when = shutdownWords(this.offer.retiring, m);
      return when ? `${m} · ${when}` : m;
    };
    this.model.replaceChildren(
      // The note under the pickers gives the default's date: the closed picker stays short.
      new Option(fallback ? `Default model (${fallback})` : "Default model", "", false, !choice.model),
      ...models.map((m) => new Option(label(m), m, false, m === choice.model)),
    );
    this.model.title = this.offer.models_listed ? "Model" : `Model (${this.offer.models_message || "the provider's list is unavailable"})`;
    this.showRetiring();
  }

  /** The model the next message runs on: the one picked, else the assistant's or Settings'. */
  private current(): string {
    if (this.model.value) return this.model.value;
    const assistant = this.offer.assistants.find((a) => a.id === this.assistant.value);
    return effectiveModel(this.offer, assistant?.model || this.offer.default_model);
  }

  private showRetiring(): void {
    const model = this.current();
    const when = shutdownWords(this.offer.retiring, model);
    const replacement = this.offer.retiring[model]?.replacement;
    const offered = replacement && (!this.offer.models_listed || this.offer.models.includes(replacement));
    this.retiring.hidden = !when;
    (this.retiring.firstChild as HTMLElement).textContent = when ? `${model} ${when}.` : "";
    this.switchTo.hidden = !offered;
    this.switchTo.textContent = offered ? `Use ${replacement}` : "";
  }

  /** One click: this chat's next messages use the replacement. */
  private useReplacement(): void {
    const replacement = this.offer.retiring[this.current()]?.replacement;
    if (!replacement) return;
    if (![...this.model.options].some((o) => o.value === replacement)) this.model.append(new Option(replacement, replacement));
    this.model.value = replacement;
    this.showRetiring();
    this.model.focus();
  }

  /** The message's inference options: the assistant always, the model once one is picked. */
  options(): Obj {
    const options: Obj = {};
    if (this.assistant.value) options.tool_choice = { id: `${ASSISTANT_PREFIX}${this.assistant.value}` };
    if (this.model.value) options.model = this.model.value;
    return options;
  }
}
