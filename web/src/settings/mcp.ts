// Settings → Tools and MCP servers: each server's state (with its output when it fails), editing
// mcp.json, importing Claude Desktop's servers, and per tool or server: ask first, allow, block.
import { h } from "../chat/dom";
import { FieldErrors } from "./field-errors";
import { call, type FieldError, type Obj } from "../request";
import { lines, pairs } from "./text-fields";

type Policy = "ask" | "allow" | "block";

export interface McpTool { name: string; key: string; description: string }
export interface McpServer {
  name: string;
  key: string; // the server's name for it (and `McpTool.key` for a tool) in policies and assistants
  transport: "stdio" | "http" | "sse";
  state: "connecting" | "connected" | "failed" | "stopped" | "disabled";
  error: string | null;
  tools: McpTool[];
  stderr?: string;
  command?: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
  disabled: boolean;
  timeout_s: number;
}
interface BuiltinTool { name: string; label: string; acts: boolean }

const POLICY_LABELS: [Policy, string][] = [["ask", "Ask first"], ["allow", "Allow"], ["block", "Block"]];

function stateText(s: McpServer): string {
  switch (s.state) {
    case "connected": return `Connected · ${s.tools.length} tool${s.tools.length === 1 ? "" : "s"}`;
    case "connecting": return "Connecting…";
    case "disabled": return "Off";
    case "stopped": return `Stopped: ${s.error ?? "it stopped"}. It starts again when a chat uses it.`;
    default: return `Failed: ${s.error ?? "unknown reason"}`;
  }
}

export class McpEditor {
  servers: McpServer[] = []; // as last shown; the assistant editor offers them
  serversShown = (): void => undefined;
  private builtins: BuiltinTool[] = [];
  private policies: Record<string, Policy> = {};
  private alwaysAsk = h("input", { type: "checkbox", id: "always-ask" });
  private pathNote = h("p", { class: "hint" });
  private fileError = h("p", { class: "error", role: "alert" });
  private list = h("ul", { class: "server-list", "aria-label": "MCP servers" });
  private builtinList = h("ul", { class: "server-list builtin-tools", "aria-label": "Built-in tools" });
  private status = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  private saveSeq = 0;
  private saving = Promise.resolve();
  private form = h("form", { class: "assistant-form server-form", hidden: true, "aria-label": "Edit MCP server" });
  private editing: McpServer | null = null;
  private fields = {
    name: h("input", { name: "server-name", maxlength: 64, autocomplete: "off", spellcheck: "false" }),
    kind: h("select", { name: "server-kind" },
      h("option", { value: "stdio" }, "A program on this computer (stdio)"),
      h("option", { value: "http" }, "A URL (Streamable HTTP)"),
      h("option", { value: "sse" }, "A URL (SSE, older servers)")),
    command: h("input", { name: "server-command", autocomplete: "off", spellcheck: "false", placeholder: "npx" }),
    args: h("textarea", { name: "server-args", rows: 3, spellcheck: "false", placeholder: "-y\n@modelcontextprotocol/server-filesystem\n/Users/me/Documents" }),
    env: h("textarea", { name: "server-env", rows: 2, spellcheck: "false", placeholder: "NAME=value" }),
    cwd: h("input", { name: "server-cwd", autocomplete: "off", spellcheck: "false" }),
    url: h("input", { name: "server-url", type: "url", autocomplete: "off", spellcheck: "false", placeholder: "https://example.com/mcp" }),
    headers: h("textarea", { name: "server-headers", rows: 2, spellcheck: "false", placeholder: "Authorization: Bearer …" }),
    timeout: h("input", { name: "server-timeout", type: "number", min: 1, max: 3600, value: 60 }),
  };
  private formError = h("p", { class: "error", role: "alert" });
  private fieldErrors = new FieldErrors(this.fields);
  private polling = 0;
  readonly element: HTMLElement;

  constructor(private changed: () => void) {
    const f = this.fields;
    // Each field, then its error line (outside the label, so that it isn't part of its name).
    const label = (text: string, control: HTMLElement, cls = "") => [h("label", { class: `field ${cls}` }, h("span", {}, text), control),
      this.fieldErrors.slot(control.getAttribute("name")!.replace("server-", ""), cls)];
    this.form.append(
      ...label("Server name", f.name),
      ...label("Kind", f.kind),
      ...label("Command", f.command, "for-stdio"),
      ...label("Arguments (one per line)", f.args, "for-stdio"),
      ...label("Environment (NAME=value per line; saved values show as dots)", f.env, "for-stdio"),
      ...label("Working folder (optional)", f.cwd, "for-stdio"),
      ...label("URL", f.url, "for-url"),
      ...label("Headers (Name: value per line; saved values show as dots)", f.headers, "for-url"),
      ...label("Seconds a tool call may take", f.timeout),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.closeForm() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Save server")),
      this.formError);
    f.kind.addEventListener("change", () => this.showKind());
    this.form.addEventListener("submit", (e) => { e.preventDefault(); void this.save(); });
    this.alwaysAsk.addEventListener("change", () => void this.saveSettings({ always_ask_tools: this.alwaysAsk.checked }));
    this.element = h("section", { class: "assistants mcp", "aria-labelledby": "mcp-title" },
      h("h3", { id: "mcp-title" }, "Tools and MCP servers"),
      h("p", { class: "hint" }, "MCP servers give assistants your own tools: files, git, databases, browsers. A tool call waits for your approval unless you allow it here."),
      h("label", { class: "check always-ask" }, this.alwaysAsk, h("span", {}, "Ask before every tool call, whatever is set below")),
      this.fileError,
      this.list,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.openForm(null) }, "Add server"),
        h("button", { type: "button", onclick: () => void this.importClaude() }, "Import from Claude Desktop")),
      this.pathNote,
      this.form,
      this.status,
      h("h4", {}, "Built-in tools"),
      this.builtinList);
  }

  async load(): Promise<void> {
    try {
      const [mcp, settings, assistants] = await Promise.all([call("/api/mcp"), call("/api/settings"), call("/api/assistants")]);
      this.builtins = assistants.tools;
      this.policies = { ...(settings.saved.tool_policies || {}) };
      this.alwaysAsk.checked = !!settings.saved.always_ask_tools;
      this.show(mcp);
    } catch (e) {
      this.status.textContent = `Couldn't load the MCP servers: ${(e as Error).message}`;
    }
  }

  private show(view: Obj): void {
    this.servers = view.servers;
    this.pathNote.textContent = `Servers are kept in ${view.path} (the format Claude Desktop uses). ` +
      (view.claude_desktop.found ? `Claude Desktop's file: ${view.claude_desktop.path}.` : "No Claude Desktop file was found on this computer.");
    const problems = Object.entries(view.problems || {}).map(([n, m]) => `${n}: ${m}`);
    this.fileError.textContent = [view.error, ...problems].filter(Boolean).join(" ");
    this.render();
    this.serversShown();
    // While a server is starting, look again shortly.
    window.clearTimeout(this.polling);
    if (this.servers.some((s) => s.state === "connecting")) this.polling = window.setTimeout(() => void this.refresh(), 1000);
  }

  private async refresh(): Promise<void> {
    try { this.show(await call("/api/mcp")); } catch { /* the next change shows it */ }
  }

  private policySelect(key: string, fallback: Policy, label: string): HTMLSelectElement {
    const select = h("select", { class: "policy", "aria-label": label, "data-key": key },
      ...POLICY_LABELS.map(([value, text]) => h("option", { value }, text)));
    select.value = this.policies[key] ?? fallback;
    select.addEventListener("change", () => {
      const value = select.value as Policy;
      if (value === fallback) delete this.policies[key];
      else this.policies[key] = value;
      void this.saveSettings({ tool_policies: this.policies });
    });
    return select;
  }

  private render(): void {
    if (!this.servers.length) {
      this.list.replaceChildren(h("li", { class: "empty" }, "No MCP servers yet. Add one, or import Claude Desktop's."));
    } else {
      this.list.replaceChildren(...this.servers.map((s) => this.serverRow(s)));
    }
    this.builtinList.replaceChildren(...this.builtins.map((t) =>
      h("li", {}, h("div", { class: "assistant-text" }, h("strong", {}, t.label), h("span", { class: "hint" }, t.acts ? "Acts outside the chat: asks first by default." : "Runs without asking by default.")),
        this.policySelect(t.name, t.acts ? "ask" : "allow", `When ${t.label} is used`))));
  }

  private serverRow(s: McpServer): HTMLElement {
    const serverKey = s.key;
    const where = s.transport === "stdio" ? [s.command, ...(s.args || [])].join(" ") : s.url || "";
    const row = h("li", { class: `server state-${s.state}`, "data-server": s.name },
      h("div", { class: "server-head" },
        h("div", { class: "assistant-text" },
          h("strong", {}, s.name), h("span", { class: "badge" }, s.transport === "stdio" ? "program" : s.transport === "sse" ? "SSE" : "HTTP"),
          h("span", { class: "server-state", role: "status" }, stateText(s)),
          h("span", { class: "hint server-where", title: where }, where)),
        h("div", { class: "assistant-actions" },
          h("span", { class: "hint policy-label" }, "Its tools:"),
          this.policySelect(serverKey, "ask", `When tools of ${s.name} are used`),
          h("button", { type: "button", class: "link", "aria-label": `Edit ${s.name}`, onclick: () => this.openForm(s) }, "Edit"),
          s.disabled ? "" : h("button", { type: "button", class: "link", "aria-label": `Restart ${s.name}`, onclick: () => void this.act(`/api/mcp/servers/${encodeURIComponent(s.name)}/restart`, "POST", `Restarting “${s.name}”…`) }, "Restart"),
          h("button", { type: "button", class: "link", "aria-label": `${s.disabled ? "Turn on" : "Turn off"} ${s.name}`, onclick: () => void this.act(`/api/mcp/servers/${encodeURIComponent(s.name)}/enabled`, "POST", s.disabled ? `Turned on “${s.name}”.` : `Turned off “${s.name}”.`, { enabled: s.disabled }) }, s.disabled ? "Turn on" : "Turn off"),
          h("button", { type: "button", class: "link danger", "aria-label": `Delete ${s.name}`, onclick: () => void this.remove(s) }, "Delete"))));
    if (s.stderr) {
      row.append(h("details", { class: "server-output", open: true }, h("summary", {}, "What the server printed"), h("pre", {}, s.stderr)));
    }
    if (s.tools.length) {
      const tools = h("ul", { class: "server-tools" }, ...s.tools.map((t) =>
        h("li", {}, h("div", { class: "assistant-text" }, h("code", {}, t.name), h("span", { class: "hint" }, t.description)),
          this.policySelect(t.key, this.policies[serverKey] ?? "ask", `When ${s.name}'s ${t.name} is used`))));
      row.append(h("details", { class: "server-tool-list" }, h("summary", {}, `Its tools (${s.tools.length})`), tools));
    }
    return row;
  }

  private showKind(): void {
    const stdio = this.fields.kind.value === "stdio";
    this.form.querySelectorAll<HTMLElement>(".for-stdio").forEach((e) => (e.hidden = !stdio));
    this.form.querySelectorAll<HTMLElement>(".for-url").forEach((e) => (e.hidden = stdio));
  }

  private openForm(s: McpServer | null): void {
    const f = this.fields;
    this.editing = s;
    f.name.value = s?.name ?? "";
    f.kind.value = s?.transport ?? "stdio";
    f.command.value = s?.command ?? "";
    f.args.value = (s?.args ?? []).join("\n");
    f.env.value = Object.entries(s?.env ?? {}).map(([k, v]) => `${k}=${v}`).join("\n");
    f.cwd.value = s?.cwd ?? "";
    f.url.value = s?.url ?? "";
    f.headers.value = Object.entries(s?.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n");
    f.timeout.value = String(s?.timeout_s ?? 60);
    this.formError.textContent = "";
    this.fieldErrors.show({});
    this.showKind();
    this.form.hidden = false;
    f.name.focus();
  }

  private closeForm(): void {
    this.form.hidden = true;
    this.editing = null;
  }

  private entry(): Obj {
    const f = this.fields;
    const entry: Obj = { timeout: Number(f.timeout.value) || 60 };
    if (this.editing?.disabled) entry.disabled = true;
    if (f.kind.value === "stdio") {
      Object.assign(entry, { command: f.command.value.trim(), args: lines(f.args.value), env: pairs(f.env.value, "=") });
      if (f.cwd.value.trim()) entry.cwd = f.cwd.value.trim();
    } else {
      Object.assign(entry, { url: f.url.value.trim(), type: f.kind.value, headers: pairs(f.headers.value, ":") });
    }
    return entry;
  }

  private async save(): Promise<void> {
    const name = this.fields.name.value.trim();
    if (!name) { this.formError.textContent = "Give the server a name."; return; }
    const body = JSON.stringify({ entry: this.entry(), rename_from: this.editing && this.editing.name !== name ? this.editing.name : null });
    try {
      this.show(await call(`/api/mcp/servers/${encodeURIComponent(name)}`, { method: "PUT", body }));
      this.status.textContent = `Saved “${name}”; it is starting.`;
      this.closeForm();
      this.changed();
    } catch (e) {
      this.formError.textContent = (e as Error).message;
      this.fieldErrors.show((e as FieldError).fields || {});
    }
  }

  private async act(path: string, method: string, done: string, body?: Obj): Promise<void> {
    try {
      this.show(await call(path, { method, body: body ? JSON.stringify(body) : undefined }));
      this.status.textContent = done;
      this.changed();
    } catch (e) {
      this.status.textContent = (e as Error).message;
    }
  }

  private async remove(s: McpServer): Promise<void> {
    if (!window.confirm(`Remove the MCP server “${s.name}” from mcp.json? Its program is not uninstalled.`)) return;
    await this.act(`/api/mcp/servers/${encodeURIComponent(s.name)}`, "DELETE", `Removed “${s.name}”.`);
  }

  private async importClaude(): Promise<void> {
    try {
      const view = await call("/api/mcp/import", { method: "POST", body: "{}" });
      this.show(view);
      const added = view.imported.length ? `Imported ${view.imported.join(", ")}.` : "Nothing new to import.";
      const skipped = view.skipped.length ? ` Skipped (already here or not valid): ${view.skipped.join(", ")}.` : "";
      this.status.textContent = added + skipped;
      this.changed();
    } catch (e) {
      this.status.textContent = (e as Error).message;
    }
  }

  private saveSettings(settings: Obj): Promise<void> {
    // Cleared first, and only the latest change reports: a "Saved" from an earlier change must
    // not vouch for one still on its way.
    const seq = ++this.saveSeq;
    this.status.textContent = "Saving…";
    // One at a time, in the order made: two quick changes to one setting must not land swapped.
    this.saving = this.saving.then(async () => {
      try {
        await call("/api/settings", { method: "PUT", body: JSON.stringify({ settings }) });
        if (seq === this.saveSeq) this.status.textContent = "Saved. New tool calls follow it.";
      } catch (e) {
        this.status.textContent = `Not saved: ${(e as Error).message}`;
      }
    });
    return this.saving;
  }
}

