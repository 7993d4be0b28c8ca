// Settings → Provider: what the API key status says, and the choice to send the saved key to a
// new address. The app sends a saved key only to the host it was saved for, so after the base URL
// moves to another host the user types that host's key, or ticks this box to use the saved one.
import { h } from "../chat/dom";
import type { Obj } from "./request";

export function keyStatusText(key: Obj): string {
  const where = key.storage === "keychain" ? "the system keychain" : "a private key file (readable only by you)";
  if (key.source === "env") return `Using OPENAI_API_KEY from the environment (…${key.last4 || ""}).`;
  if (!key.set) return `No key saved. A key you enter is kept in ${where}.`;
  if (key.needs_key_for) {
    return `Enter your key for ${key.needs_key_for}. The saved key (…${key.last4}) is for ${key.for_host}, ` +
      `so it is not sent to ${key.needs_key_for} unless you choose to use it there.`;
  }
  return `A key ending in …${key.last4} is saved in ${where}` + (key.for_host ? ` for ${key.for_host}.` : ".");
}

export class SavedKeyChoice {
  private box = h("input", { type: "checkbox", name: "use_saved_key" });
  private text = h("span", {});
  // Styled as the other checkbox rows of Settings ("always-ask" is that look in style.css).
  readonly element = h("label", { class: "check always-ask use-saved-key", hidden: true }, this.box, this.text);

  render(key: Obj): void {
    this.box.checked = false;
    this.element.hidden = !key.needs_key_for;
    this.text.textContent = key.needs_key_for ? `Use my saved key (…${key.last4}) with ${key.needs_key_for}` : "";
  }

  /** Adds the user's choice to a Settings request body. */
  apply(body: Obj): Obj {
    if (!this.element.hidden && this.box.checked) body.use_saved_key = true;
    return body;
  }
}
