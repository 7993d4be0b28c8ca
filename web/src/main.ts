// ChatKit Desktop page: boot, onboarding and Settings; chat-host.ts shows the chat.
import "./style.css";

import { ChatHost } from "./chat-host";
import { firstHistoryPage } from "./chat/history";
import { ChatKitApi } from "./chat/protocol";
import { makeClientTools } from "./client-tools";
import { call as api, type FieldError, type Obj } from "./request";
import { AssistantsEditor } from "./settings/assistants";
import { DataPanel, takeNotice } from "./settings/data";
import { McpEditor } from "./settings/mcp";
import { ModelAdvice } from "./settings/model-advice";
import { keyStatusText, SavedKeyChoice } from "./settings/saved-key";

// Provider presets come from the server with the settings.
let presets: Record<string, { base_url: string; api: string }> = {};
const FIELDS = ["provider", "base_url", "api", "model", "theme", "chat_interface"];

// The page's own elements, found once at start-up, before any reply is on the page: whatever a
// reply contains can never stand in for one of them.
const elements = new Map<string, HTMLElement>();
for (const el of document.querySelectorAll<HTMLElement>("[id]")) elements.set(el.id, el);
const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => elements.get(id) as T;
const form = $<HTMLFormElement>("settings-form");
// Settings fields come from the form itself, never by a global id.
const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
const fieldError = (name: string) => form.querySelector<HTMLElement>(`[id="error-${name}"]`);
// What the first screen shows, asked for before the rest of the page is built: the launch
// answers both at once, before the rest of the app has loaded.
const firstView = api("/api/settings");
firstView.catch(() => undefined); // load() reports it
const firstHistory = firstHistoryPage(new ChatKitApi());
const savedKey = new SavedKeyChoice();
$("key-status").after(savedKey.element);
const modelAdvice = new ModelAdvice($("model-list"));

function report(level: string, message: unknown, source = "page"): void {
  // Page problems go to the app's log file, where a bug report can find them.
  void fetch("/api/log", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ level, message: String(message).slice(0, 4000), source }),
  }).catch(() => undefined);
}
window.addEventListener("error", (e) => report("error", `${e.message} at ${e.filename}:${e.lineno}`, "window.onerror"));
window.addEventListener("unhandledrejection", (e) => report("error", (e.reason && e.reason.stack) || e.reason, "unhandledrejection"));

const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function isDark(theme: string): boolean {
  return theme === "dark" || (theme === "system" && darkQuery.matches);
}

function applyTheme(theme: string): void {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function show(section: "home" | "settings"): void {
  for (const id of ["home", "settings"]) $(id).hidden = id !== section;
  if (section === "settings") void assistantsEditor.load().then(() => mcpEditor.load()).then(() => dataPanel.load());
  document.body.dataset.view = section;
}

function clearErrors(): void {
  for (const name of [...FIELDS, "api_key"]) {
    const el = fieldError(name);
    if (el) el.textContent = "";
    field(name)?.removeAttribute("aria-invalid");
  }
}

function showErrors(fields: Obj): void {
  for (const [name, message] of Object.entries(fields)) {
    const el = fieldError(name);
    if (el) el.textContent = String(message);
    field(name)?.setAttribute?.("aria-invalid", "true");
  }
}

function formValues(): Obj {
  const values: Obj = {};
  for (const name of FIELDS) values[name] = field(name).value;
  return values;
}

function setModels(models: string[]): void {
  modelAdvice.list(models);
}

let bannerDismissed = false;

function banner(message: string | null, offerSettings = true): void {
  $("banner-text").textContent = message || "";
  $("banner-switch").hidden = !offerSettings;
  $("banner").hidden = !message || bannerDismissed;
}

function render(view: Obj): void {
  const s = view.settings;
  presets = view.presets || {};
  for (const name of FIELDS) field(name).value = s[name];
  modelAdvice.update();
  field("api_key").value = "";
  const key = view.api_key;
  $("key-status").textContent = keyStatusText(key);
  savedKey.render(key, s.base_url);
  $("clear-key").hidden = !(key.set && key.source !== "env");
  $("env-base_url").hidden = !view.overridden_by_env.includes("base_url");
  $("data-dir").textContent = view.data_dir;
  $("log-file").textContent = view.log_file || "(not logging to a file)";
  $("onboarding-intro").hidden = !view.needs_onboarding;
  $("home-status").textContent = `Replies come from ${new URL(s.base_url).host} using ${s.model}.`;
  applyTheme(s.theme);
}

// The assistant's set_theme tool: saved like the setting, and shown at once.
async function setThemeFromChat(theme: string): Promise<void> {
  await api("/api/settings", { method: "PUT", body: JSON.stringify({ settings: { theme } }) });
  field("theme").value = theme;
  applyTheme(theme);
  chat.refresh();
}

const chat = new ChatHost({
  host: $("chat-host"), api, banner, report,
  dark: () => isDark(field("theme").value),
  clientTools: makeClientTools(setThemeFromChat),
  firstHistory,
});

async function load(): Promise<void> {
  const view = await firstView;
  render(view);
  show(view.needs_onboarding ? "settings" : "home");
  await chat.mount(view);
  await chat.shown;
  // What a restore or an erase did, said once after the page reloaded.
  const notice = takeNotice();
  if (notice) banner(notice, false);
  else if (view.api_key.needs_key_for) banner(keyStatusText(view.api_key), false);
  document.body.dataset.ready = "true";
  // The launch measures time to a usable window by this, and builds the rest of the app after it.
  void fetch("/api/page/ready", { method: "POST" }).catch(() => undefined);
  void modelAdvice.load();
}

const mcpEditor = new McpEditor(() => chat.refresh());
const assistantsEditor = new AssistantsEditor(() => chat.refresh(), () => mcpEditor.servers, modelAdvice);
// An assistant form opened before the servers were listed (or while they change) offers them.
mcpEditor.serversShown = () => assistantsEditor.serversChanged();
// A default model that shuts down: one click saves its replacement as the default.
fieldError("model")?.before(modelAdvice.attach(field("model"), async (model) => {
  render(await api("/api/settings", { method: "PUT", body: JSON.stringify({ settings: { model } }) }));
  $("save-result").textContent = `The default model is now ${model}.`;
  chat.refresh();
}));
const dataPanel = new DataPanel(() => chat.refresh());
$("assistants-host").replaceChildren(assistantsEditor.element, mcpEditor.element, dataPanel.element);

/** Settings is one long page; its sections are a click away, and the heading takes focus. */
function settingsNav(): void {
  const sections: [string, HTMLElement][] = [
    ["Provider and model", form],
    ["Assistants", assistantsEditor.element],
    ["Tools and MCP servers", mcpEditor.element],
    ["Your data", dataPanel.element],
  ];
  $("settings-nav").replaceChildren(...sections.map(([label, section]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    button.addEventListener("click", () => {
      const heading = section.querySelector<HTMLElement>("h3");
      section.scrollIntoView({ block: "start" });
      heading?.setAttribute("tabindex", "-1");
      heading?.focus({ preventScroll: true });
    });
    return button;
  }));
}
settingsNav();

function wire(): void {
  $("nav-home").addEventListener("click", () => show("home"));
  $("banner-close").addEventListener("click", () => {
    bannerDismissed = true;
    $("banner").hidden = true;
  });
  $("banner-switch").addEventListener("click", () => {
    show("settings");
    field("chat_interface").focus();
  });
  $("nav-settings").addEventListener("click", async () => {
    show("settings");
    try {
      setModels((await api("/api/models")).models);
      void modelAdvice.load();
    } catch {
      // The picker stays free-form; Test connection explains failures.
    }
  });
  field("provider").addEventListener("change", () => {
    const preset = presets[field("provider").value];
    if (preset) {
      field("base_url").value = preset.base_url;
      field("api").value = preset.api;
    }
    savedKey.follow(field("base_url").value);
  });
  field("base_url").addEventListener("input", () => savedKey.follow(field("base_url").value));
  field("theme").addEventListener("change", () => applyTheme(field("theme").value));
  $("clear-key").addEventListener("click", async () => {
    render(await api("/api/settings", { method: "PUT", body: JSON.stringify({ clear_api_key: true }) }));
    $("save-result").textContent = "The saved key was removed.";
  });
  $("test").addEventListener("click", async () => {
    clearErrors();
    const out = $("test-result");
    out.className = "";
    out.textContent = "Testing…";
    const body: Obj = savedKey.apply({ settings: formValues() });
    if (field("api_key").value.trim()) body.api_key = field("api_key").value;
    try {
      const result = await api("/api/settings/test", { method: "POST", body: JSON.stringify(body) });
      out.className = result.ok ? "ok" : "bad";
      out.textContent = result.message;
      if (result.fields) showErrors(result.fields);
      if (result.ok) setModels(result.models);
    } catch (e) {
      out.className = "bad";
      out.textContent = (e as Error).message;
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body: Obj = savedKey.apply({ settings: formValues() });
    if (field("api_key").value.trim()) body.api_key = field("api_key").value;
    try {
      const view = await api("/api/settings", { method: "PUT", body: JSON.stringify(body) });
      render(view);
      $("save-result").className = "ok";
      $("save-result").textContent = "Saved.";
      if (!view.needs_onboarding) {
        show("home");
        await chat.mount(view);
        chat.refresh(); // the provider's model list may have changed
      }
    } catch (e) {
      showErrors((e as FieldError).fields || {});
      $("save-result").className = "bad";
      $("save-result").textContent = (e as Error).message;
    }
  });
  darkQuery.addEventListener("change", () => applyTheme(field("theme").value));
}

wire();
load().catch((e) => {
  report("error", (e as Error).stack || (e as Error).message, "load");
  banner(`Could not load: ${(e as Error).message}`);
  show("home");
});
