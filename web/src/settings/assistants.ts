// Settings → Assistants: create, edit, duplicate and delete the assistants a chat can run.
import { h } from "../chat/dom";
import { call } from "../request";
import type { McpServer } from "./mcp";
import type { ModelAdvice } from "./model-advice";

interface Assistant {
  id: string;
  name: string;
  instructions: string;
  model: string | null;
  tools: string[];
  builtin: boolean;
}

interface ToolInfo {
  name: string;
  label: string;
  description: string;
  available: boolean;
  note: string;
}

function offeredKeys(servers: McpServer[]): string {
  return servers.map((s) => [s.key, ...s.tools.map((t) => t.key)].join(" ")).join("\n");
}

export class AssistantsEditor {
  private assistants: Assistant[] = [];
  private tools: ToolInfo[] = [];
  private toolLabels: Record<string, string> = {};
  private allMcp = "";
  private editing: Assistant | null = null;
  private offered = ""; // the MCP keys the open form offers
  // Until the list arrives the form would have no tools to offer.
  private newButton = h("button", { type: "button", class: "new-assistant", disabled: true, onclick: () => this.openForm(null) }, "New assistant");
  private list = h("ul", { class: "assistant-list", "aria-label": "Assistants" });
  private status = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  private form = h("form", { class: "assistant-form", hidden: true, "aria-label": "Edit assistant" });
  private name = h("input", { name: "assistant-name", maxlength: 80, required: true, autocomplete: "off" });
  private instructions = h("textarea", { name: "assistant-instructions", rows: 5, maxlength: 20000 });
  private model = h("input", { name: "assistant-model", list: "model-list", autocomplete: "off", spellcheck: "false", placeholder: "The default model in Settings" });
  private toolBoxes = h("fieldset", { class: "tool-boxes" });
  private serverBoxes = h("fieldset", { class: "tool-boxes" });
  private formError = h("p", { class: "error", role: "alert" });
  readonly element: HTMLElement;

  constructor(private changed: () => void, private mcpServers: () => McpServer[] = () => [], private advice?: ModelAdvice) {
    const label = (text: string, control: HTMLElement) => h("label", { class: "field" }, h("span", {}, text), control);
    this.form.append(
      label("Name", this.name),
      label("Instructions", this.instructions),
      label("Default model", this.model),
      advice ? advice.attach(this.model) : "",
      this.toolBoxes,
      this.serverBoxes,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.closeForm() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Save assistant")),
      this.formError,
    );
    advice?.watch(() => this.render());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    this.element = h("section", { class: "assistants", "aria-labelledby": "assistants-title" },
      h("h3", { id: "assistants-title" }, "Assistants"),
      h("p", { class: "hint" }, "Each chat runs one assistant, chosen in the composer. An assistant has its own instructions, default model and tools."),
      this.list,
      this.newButton,
      this.form,
      this.status);
  }

  async load(): Promise<void> {
    try {
      const body = await call("/api/assistants");
      this.assistants = body.assistants;
      this.tools = body.tools;
      this.toolLabels = body.tool_labels;
      this.allMcp = body.all_mcp;
      this.newButton.disabled = false;
      this.render();
    } catch (e) {
      this.status.textContent = `Couldn't load the assistants: ${(e as Error).message}`;
    }
  }

  private render(): void {
    this.list.replaceChildren(...this.assistants.map((a) => {
      const tools = a.tools.map((t) => this.toolLabels[t] ?? t);
      const detail = `${a.model || "default model"}${this.advice?.suffix(a.model) ?? ""} · ${tools.length ? tools.join(", ") : "no tools"}`;
      return h("li", {},
        h("div", { class: "assistant-text" }, h("strong", {}, a.name), a.builtin ? h("span", { class: "badge" }, "built-in") : "", h("span", { class: "hint" }, detail)),
        h("div", { class: "assistant-actions" },
          this.switchButton(a),
          h("button", { type: "button", class: "link", "aria-label": `Edit ${a.name}`, onclick: () => this.openForm(a) }, "Edit"),
          h("button", { type: "button", class: "link", "aria-label": `Duplicate ${a.name}`, onclick: () => void this.duplicate(a) }, "Duplicate"),
          a.builtin ? "" : h("button", { type: "button", class: "link danger", "aria-label": `Delete ${a.name}`, onclick: () => void this.remove(a) }, "Delete")));
    }));
  }

  /** One click moves an assistant off a model that shuts down, to its replacement. */
  private switchButton(a: Assistant): HTMLElement | string {
    const replacement = this.advice?.replacement(a.model);
    if (!replacement) return "";
    return h("button", {
      type: "button", class: "link", "aria-label": `Switch ${a.name} to ${replacement}`,
      onclick: async () => {
        const body = JSON.stringify({ name: a.name, instructions: a.instructions, model: replacement, tools: a.tools });
        try {
          await call(`/api/assistants/${encodeURIComponent(a.id)}`, { method: "PUT", body });
          this.status.textContent = `“${a.name}” now uses ${replacement}.`;
          await this.load();
          this.changed();
        } catch (e) {
          this.status.textContent = (e as Error).message;
        }
      },
    }, `Use ${replacement}`);
  }

  private openForm(assistant: Assistant | null): void {
    this.editing = assistant;
    this.name.value = assistant?.name ?? "";
    this.instructions.value = assistant?.instructions ?? "You are a helpful assistant.";
    this.model.value = assistant?.model ?? "";
    this.advice?.update();
    // A new assistant starts with every tool that works with the current provider.
    const chosen = new Set(assistant ? assistant.tools : this.tools.filter((t) => t.available).map((t) => t.name));
    this.toolBoxes.replaceChildren(h("legend", {}, "Tools it may use"), ...this.tools.map((t) => {
      const box = h("input", { type: "checkbox", name: "assistant-tool", value: t.name });
      box.checked = chosen.has(t.name);
      return h("label", { class: "check" }, box, h("span", {}, h("strong", {}, t.label), ` — ${t.description}`,
        t.available ? "" : h("span", { class: "hint tool-note" }, ` ${t.note}`)));
    }));
    this.renderServers(new Set(assistant ? assistant.tools : [this.allMcp]));
    this.formError.textContent = "";
    this.form.hidden = false;
    this.name.focus();
  }

  // MCP servers: all of them (including ones added later), or chosen servers, or some of a
  // server's tools, each by the key the server gives it.
  private renderServers(chosen: Set<string>): void {
    const servers = this.mcpServers();
    this.offered = offeredKeys(servers);
    const all = h("input", { type: "checkbox", name: "assistant-tool", value: this.allMcp });
    all.checked = chosen.has(this.allMcp);
    const rows = servers.map((s) => {
      const box = h("input", { type: "checkbox", name: "assistant-tool", value: s.key, class: "server-box" });
      box.checked = chosen.has(s.key);
      const tools = s.tools.map((t) => {
        const toolBox = h("input", { type: "checkbox", name: "assistant-tool", value: t.key });
        toolBox.checked = chosen.has(t.key);
        return h("label", { class: "check" }, toolBox, h("span", {}, h("code", {}, t.name)));
      });
      return h("div", { class: "server-choice" },
        h("label", { class: "check" }, box, h("span", {}, h("strong", {}, s.name), " — every tool it has")),
        tools.length ? h("details", { class: "server-tools" }, h("summary", {}, "or only some of its tools"), ...tools) : "");
    });
    const sync = () => this.serverBoxes.querySelectorAll<HTMLInputElement>("input").forEach((b) => (b.disabled = b !== all && all.checked));
    all.addEventListener("change", sync);
    this.serverBoxes.replaceChildren(h("legend", {}, "MCP servers it may use"),
      h("label", { class: "check" }, all, h("span", {}, h("strong", {}, "All MCP servers"), " — including ones added later")),
      ...rows,
      servers.length ? "" : h("p", { class: "hint" }, "No MCP servers are set up yet (see Tools and MCP servers below)."));
    sync();
  }

  /** The MCP servers changed (or arrived): an open form offers them, its ticks kept. */
  serversChanged(): void {
    if (this.form.hidden || offeredKeys(this.mcpServers()) === this.offered) return;
    const ticked = this.serverBoxes.querySelectorAll<HTMLInputElement>("input:checked");
    this.renderServers(new Set([...ticked].map((b) => b.value)));
  }

  private closeForm(): void {
    this.form.hidden = true;
    this.editing = null;
  }

  private async save(): Promise<void> {
    const tools = [...this.form.querySelectorAll<HTMLInputElement>("fieldset input:checked:not(:disabled)")].map((b) => b.value);
    const body = JSON.stringify({ name: this.name.value, instructions: this.instructions.value, model: this.model.value || null, tools });
    try {
      const saved = this.editing
        ? await call(`/api/assistants/${encodeURIComponent(this.editing.id)}`, { method: "PUT", body })
        : await call("/api/assistants", { method: "POST", body });
      this.status.textContent = `Saved “${saved.name}”.`;
      this.closeForm();
      await this.load();
      this.changed();
    } catch (e) {
      this.formError.textContent = (e as Error).message;
    }
  }

  private async duplicate(assistant: Assistant): Promise<void> {
    try {
      const copy = await call(`/api/assistants/${encodeURIComponent(assistant.id)}/duplicate`, { method: "POST" });
      this.status.textContent = `Made “${copy.name}”.`;
      await this.load();
      this.changed();
    } catch (e) {
      this.status.textContent = (e as Error).message;
    }
  }

  private async remove(assistant: Assistant): Promise<void> {
    if (!window.confirm(`Delete the assistant “${assistant.name}”? Chats that use it go on with the built-in assistant.`)) return;
    try {
      await call(`/api/assistants/${encodeURIComponent(assistant.id)}`, { method: "DELETE" });
      this.status.textContent = `Deleted “${assistant.name}”.`;
      await this.load();
      this.changed();
    } catch (e) {
      this.status.textContent = (e as Error).message;
    }
  }
}
