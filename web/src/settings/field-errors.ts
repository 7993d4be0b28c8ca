// Errors shown next to the form fields they are about, as the app names them in an error's
// `fields` (for example saved secrets to type again after an MCP server's url changed).
import { h } from "../chat/dom";

export class FieldErrors {
  private errors = new Map<string, HTMLElement>();

  constructor(private controls: Record<string, HTMLElement>) {}

  /** The error line for `name`, placed by the caller next to its control (`cls`: classes that
   * show or hide it with the control). */
  slot(name: string, cls = ""): HTMLElement {
    const el = h("p", { class: `error ${cls}`.trim(), role: "alert", "data-error-for": name });
    this.errors.set(name, el);
    return el;
  }

  show(fields: Record<string, string>): void {
    for (const [name, el] of this.errors) {
      el.textContent = fields[name] ?? "";
      if (fields[name]) this.controls[name]?.setAttribute("aria-invalid", "true");
      else this.controls[name]?.removeAttribute("aria-invalid");
    }
  }
}
