// ChatKit Desktop shell page: onboarding, settings, theme, and error forwarding to the app log.
"use strict";

const PRESETS = {
  openai: { base_url: "https://api.openai.com/v1", api: "responses" },
  ollama: { base_url: "http://localhost:11434/v1", api: "chat_completions" },
  lmstudio: { base_url: "http://localhost:1234/v1", api: "chat_completions" },
};
const FIELDS = ["provider", "base_url", "api", "model", "system_prompt", "theme"];
const $ = (id) => document.getElementById(id);

function report(level, message, source) {
  // Page problems go to the app's log file, where a bug report can find them.
  try {
    fetch("/api/log", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ level, message: String(message).slice(0, 4000), source }),
    });
  } catch (_) { /* nothing left to tell */ }
}
window.addEventListener("error", (e) => report("error", `${e.message} at ${e.filename}:${e.lineno}`, "window.onerror"));
window.addEventListener("unhandledrejection", (e) => report("error", e.reason && e.reason.stack || e.reason, "unhandledrejection"));

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = response.status === 204 ? {} : await response.json();
  if (!response.ok) {
    const error = new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    error.fields = (body.error && body.error.fields) || {};
    throw error;
  }
  return body;
}

function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function show(section) {
  for (const id of ["home", "settings"]) $(id).hidden = id !== section;
  $(section === "home" ? "home-title" : "settings-title").focus?.();
}

function clearErrors() {
  for (const name of [...FIELDS, "api_key"]) {
    const el = $(`error-${name}`);
    if (el) el.textContent = "";
    $(name)?.removeAttribute("aria-invalid");
  }
}

function showErrors(fields) {
  for (const [name, message] of Object.entries(fields)) {
    const el = $(`error-${name}`);
    if (el) el.textContent = message;
    $(name)?.setAttribute("aria-invalid", "true");
  }
}

function formValues() {
  const values = {};
  for (const name of FIELDS) values[name] = $(name).value;
  return values;
}

let current = null;

function render(view) {
  current = view;
  const s = view.settings;
  for (const name of FIELDS) $(name).value = s[name];
  $("api_key").value = "";
  const key = view.api_key;
  const where = { keychain: "the system keychain", file: "a private key file (readable only by you)" }[key.storage];
  $("key-status").textContent = key.source === "env"
    ? `Using OPENAI_API_KEY from the environment (…${key.last4 || ""}).`
    : key.set ? `A key ending in …${key.last4} is saved in ${where}.`
      : `No key saved. A key you enter is kept in ${where}.`;
  $("clear-key").hidden = !(key.set && key.source !== "env");
  $("env-base_url").hidden = !view.overridden_by_env.includes("base_url");
  $("data-dir").textContent = view.data_dir;
  $("log-file").textContent = view.log_file || "(not logging to a file)";
  $("onboarding-intro").hidden = !view.needs_onboarding;
  $("home-status").textContent =
    `Replies come from ${new URL(s.base_url).host} using ${s.model} (${s.api === "responses" ? "Responses API" : "Chat Completions"}).`;
  applyTheme(s.theme);
  document.body.dataset.ready = "true";
}

async function load() {
  const view = await api("/api/settings");
  render(view);
  show(view.needs_onboarding ? "settings" : "home");
}

async function loadModels() {
  try {
    const { models } = await api("/api/models");
    $("model-list").replaceChildren(...models.map((m) => Object.assign(document.createElement("option"), { value: m })));
  } catch (_) { /* the picker stays free-form; Test connection explains failures */ }
}

function wire() {
  $("nav-home").addEventListener("click", () => show("home"));
  $("nav-settings").addEventListener("click", () => { show("settings"); loadModels(); });
  $("provider").addEventListener("change", () => {
    const preset = PRESETS[$("provider").value];
    if (preset) { $("base_url").value = preset.base_url; $("api").value = preset.api; }
  });
  $("theme").addEventListener("change", () => applyTheme($("theme").value));
  $("clear-key").addEventListener("click", async () => {
    render(await api("/api/settings", { method: "PUT", body: JSON.stringify({ clear_api_key: true }) }));
    $("save-result").textContent = "The saved key was removed.";
  });
  $("test").addEventListener("click", async () => {
    clearErrors();
    const out = $("test-result");
    out.className = "";
    out.textContent = "Testing…";
    const body = { settings: formValues() };
    if ($("api_key").value.trim()) body.api_key = $("api_key").value;
    try {
      const result = await api("/api/settings/test", { method: "POST", body: JSON.stringify(body) });
      out.className = result.ok ? "ok" : "bad";
      out.textContent = result.message;
      if (result.fields) showErrors(result.fields);
      if (result.ok) {
        $("model-list").replaceChildren(...result.models.map((m) => Object.assign(document.createElement("option"), { value: m })));
      }
    } catch (e) {
      out.className = "bad";
      out.textContent = e.message;
    }
  });
  $("settings-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = { settings: formValues() };
    if ($("api_key").value.trim()) body.api_key = $("api_key").value;
    try {
      const view = await api("/api/settings", { method: "PUT", body: JSON.stringify(body) });
      render(view);
      $("save-result").className = "ok";
      $("save-result").textContent = "Saved.";
      if (!view.needs_onboarding) show("home");
    } catch (e) {
      showErrors(e.fields || {});
      $("save-result").className = "bad";
      $("save-result").textContent = e.message;
    }
  });
}

wire();
load().catch((e) => {
  report("error", e.stack || e.message, "load");
  $("home-status").textContent = `Could not load settings: ${e.message}`;
  show("home");
});
