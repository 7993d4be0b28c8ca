// Tools the assistant runs in the page (both chat interfaces): switch the theme, copy text, open
// a link in the system browser. Each returns a small result for the model.
import type { ClientTool } from "./chat/view";

const WEB_URL = /^https?:\/\//i;

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Some web views refuse the async clipboard without a click; the older way still works.
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("the clipboard is not available");
  }
}

export function makeClientTools(setTheme: (theme: string) => Promise<void>): Record<string, ClientTool> {
  return {
    set_theme: async (params) => {
      const theme = String(params.theme);
      if (!["light", "dark", "system"].includes(theme)) return { error: `unknown theme ${theme}` };
      await setTheme(theme);
      return { theme };
    },
    copy_to_clipboard: async (params) => {
      const text = String(params.text ?? "");
      await copyText(text);
      return { copied_characters: text.length };
    },
    open_link: async (params) => {
      const url = String(params.url ?? "");
      if (!WEB_URL.test(url)) return { error: "only http and https links can be opened" };
      // The window never navigates away: a new window is handed to the system browser.
      window.open(url, "_blank", "noopener");
      return { opened: url };
    },
  };
}
