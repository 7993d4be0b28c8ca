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

export interface ComposerOffer {
  assistants: AssistantOption[];
  models: string[];
  default_model: string;
  models_listed: boolean;
  models_message: string;
}

export interface ChatChoice {
  assistant_id: string | null;
  model: string | null;
}

const EMPTY_OFFER: ComposerOffer = { assistants: [], models: [], default_model: "", models_listed: false, models_message: "" };

export async function loadOffer(): Promise<ComposerOffer> {
  try {
    const response = await fetch("/api/composer");
    return response.ok ? ((await response.json()) as ComposerOffer) : EMPTY_OFFER;
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
  readonly element = h("div", { class: "pickers" }, this.assistant, this.model);

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
    const fallback = wanted?.model || this.offer.default_model;
    this.model.replaceChildren(
      new Option(fallback ? `Default model (${fallback})` : "Default model", "", false, !choice.model),
      ...models.map((m) => new Option(m, m, false, m === choice.model)),
    );
    this.model.title = this.offer.models_listed ? "Model" : `Model (${this.offer.models_message || "the provider's list is unavailable"})`;
  }

  /** The message's inference options: the assistant always, the model once one is picked. */
  options(): Obj {
    const options: Obj = {};
    if (this.assistant.value) options.tool_choice = { id: `${ASSISTANT_PREFIX}${this.assistant.value}` };
    if (this.model.value) options.model = this.model.value;
    return options;
  }
}
