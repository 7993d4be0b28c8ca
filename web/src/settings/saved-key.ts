// Settings → Provider: what the API key status says, and the choice to send the user's key to a
// new address. The app sends a key only to the host it is for (a saved key: the one it was saved
// for; OPENAI_API_KEY: the one in force at launch), so for another host the user types that
// host's key, or ticks this box to use theirs there. The box shows as soon as the form's base URL
// points elsewhere, so the choice can be made before saving (or testing) it.
import { h } from "../chat/dom";
import type { Obj } from "../request";

/** What Settings calls the key the server shows: OPENAI_API_KEY or the saved one. */
function keyName(key: Obj): string {
  return key.source === "env" ? `OPENAI_API_KEY (…${key.last4 || ""})` : `my saved key (…${key.last4})`;
}

export function keyStatusText(key: Obj): string {
  const where = key.storage === "keychain" ? "the system keychain" : "a private key file (readable only by you)";
  if (key.needs_key_for) {
    const which = key.source === "env" ? keyName(key) : `The saved key (…${key.last4})`;
    return `Enter your key for ${key.needs_key_for}. ${which} is for ${key.for_host}, ` +
      `so it is not sent to ${key.needs_key_for} unless you choose to use it there.`;
  }
  if (key.source === "env") return `Using OPENAI_API_KEY from the environment (…${key.last4 || ""}).`;
  if (!key.set) return `No key saved. A key you enter is kept in ${where}.`;
  return `A key ending in …${key.last4} is saved in ${where}` + (key.for_host ? ` for ${key.for_host}.` : ".");
}

/** `URL.origin` and `URL.host` of a base URL as typed, or null while it isn't a URL yet. */
function parse(url: string): { origin: string; host: string } | null {
  try {
    const parsed = new URL(url.trim());
    return /^https?:$/.test(parsed.protocol) ? { origin: parsed.origin, host: parsed.host } : null;
  } catch {
    return null;
  }
}

export class SavedKeyChoice {
  private box = h("input", { type: "checkbox", name: "use_saved_key" });
  private text = h("span", {});
  private key: Obj = {};
  private host = "";
  // Styled as the other checkbox rows of Settings ("always-ask" is that look in style.css).
  readonly element = h("label", { class: "check always-ask use-saved-key", hidden: true }, this.box, this.text);

  /** The key as the server shows it, for the base URL the form now holds. */
  render(key: Obj, baseUrl: string): void {
    this.key = key;
    this.box.checked = false;
    this.host = "";
    this.follow(baseUrl);
  }

  /** Offer the key for the form's base URL whenever that is another origin than the key's. */
  follow(baseUrl: string): void {
    const target = parse(baseUrl);
    const offer = Boolean(this.key.set && this.key.for_origin && target && target.origin !== this.key.for_origin);
    const host = offer && target ? target.host : "";
    // A tick was for the host it named: another host asks again.
    if (host !== this.host) this.box.checked = false;
    this.host = host;
    this.element.hidden = !offer;
    this.text.textContent = offer ? `Use ${keyName(this.key)} with ${host}` : "";
  }

  /** Adds the user's choice to a Settings request body. */
  apply(body: Obj): Obj {
    if (!this.element.hidden && this.box.checked) body.use_saved_key = true;
    return body;
  }
}
