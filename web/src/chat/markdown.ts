// Assistant text -> safe DOM. A reply is untrusted: any document the user attaches or pastes can
// steer it. So it may use only a small allow-list of tags and attributes, and nothing that reaches
// outside its own message: no ids, names, label `for`, form controls, classes or styles. Code
// highlighting (highlight.js) and math (KaTeX) load on first use and are applied after
// sanitizing, by the libraries, from plain text.
import DOMPurify from "dompurify";
import { Marked } from "marked";

type Highlighter = typeof import("highlight.js/lib/common").default;
type KaTeX = typeof import("katex").default;

// Past these, a reply is shown as plain text: Markdown parsing recurses per nesting level and
// some inputs are quadratic, and one reply must never freeze or break the page.
export const LIMITS = { chars: 100_000, depth: 32, lineChars: 20_000, highlightChars: 50_000 };

const ALLOWED_TAGS = [
  "a", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4",
  "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
  "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
];
const ALLOWED_ATTR = ["href", "src", "alt", "title", "align", "colspan", "rowspan", "start", "data-tex", "data-display", "data-lang"];
const SAFE_LINK = /^(https?:|mailto:)/i;

let hljs: Highlighter | null = null;
let katex: KaTeX | null = null;
let codeLoading = false;
let mathLoading = false;
const upgradeListeners = new Set<() => void>();

/** Called when highlighting or math becomes available, so shown replies can be rendered again. */
export function onRendererUpgrade(listener: () => void): void {
  upgradeListeners.add(listener);
}

function upgraded(): void {
  for (const listener of upgradeListeners) listener();
}

// A part that failed to load (a busy or restarting server) is tried again on a later render,
// at most once every few seconds; meanwhile the text shows unstyled.
const RETRY_MS = 3000;
let codeFailedAt = 0;
let mathFailedAt = 0;

function needCode(): void {
  if (hljs || codeLoading || Date.now() - codeFailedAt < RETRY_MS) return;
  codeLoading = true;
  import("./highlight").then(
    (m) => { hljs = m.default; upgraded(); },
    () => { codeLoading = false; codeFailedAt = Date.now(); setTimeout(upgraded, RETRY_MS + 100); },
  );
}

function needMath(): void {
  if (katex || mathLoading || Date.now() - mathFailedAt < RETRY_MS) return;
  mathLoading = true;
  import("./math").then(
    (m) => { katex = m.default; upgraded(); },
    () => { mathLoading = false; mathFailedAt = Date.now(); setTimeout(upgraded, RETRY_MS + 100); },
  );
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function mathPlaceholder(tex: string, raw: string, display: boolean): string {
  const tag = display ? "div" : "span";
  return `<${tag} data-tex="${escapeHtml(tex)}"${display ? ' data-display="1"' : ""}>${escapeHtml(raw)}</${tag}>`;
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  extensions: [
    {
      name: "blockMath",
      level: "block",
      start: (src: string) => src.indexOf("$$"),
      tokenizer(src: string) {
        const match = /^\$\$([\s\S]+?)\$\$/.exec(src);
        return match ? { type: "blockMath", raw: match[0], text: match[1].trim() } : undefined;
      },
      renderer: (token) => mathPlaceholder(String(token.text), String(token.raw), true),
    },
    {
      name: "inlineMath",
      level: "inline",
      start: (src: string) => src.search(/\$[^\s$]/),
      tokenizer(src: string) {
        const match = /^\$([^\s$](?:[^$\n]*[^\s$])?)\$(?!\d)/.exec(src);
        return match ? { type: "inlineMath", raw: match[0], text: match[1] } : undefined;
      },
      renderer: (token) => mathPlaceholder(String(token.text), String(token.raw), false),
    },
  ],
  renderer: {
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0].slice(0, 40);
      return `<pre><code data-lang="${escapeHtml(language)}">${escapeHtml(text)}</code></pre>`;
    },
  },
});

/** True when the text nests deeper than the renderer can take (quotes, lists, indentation). */
export function tooDeep(text: string, limit = LIMITS.depth): boolean {
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const prefix = /^(?:[ \t]*(?:[>*+-]|\d{1,9}[.)])(?=[ \t]|$))*/.exec(line)?.[0] ?? "";
    const markers = (prefix.match(/[>*+-]|\d{1,9}[.)]/g) || []).length;
    const indent = (/^[ \t]*/.exec(line)?.[0].length ?? 0) / 2;
    if (markers + indent > limit) return true;
  }
  return false;
}

function plain(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const div = document.createElement("div");
  div.className = "plain-text";
  div.textContent = text;
  fragment.append(div);
  return fragment;
}

function fits(text: string): boolean {
  if (text.length > LIMITS.chars) return false;
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf("\n", start);
    const stop = end < 0 ? text.length : end;
    if (stop - start > LIMITS.lineChars) return false;
    start = stop + 1;
  }
  return !tooDeep(text);
}

function finishMath(root: DocumentFragment): void {
  const nodes = root.querySelectorAll<HTMLElement>("[data-tex]");
  if (!nodes.length) return;
  if (!katex) {
    needMath();
    return;
  }
  for (const node of nodes) {
    try {
      katex.render(node.dataset.tex || "", node, {
        displayMode: node.dataset.display === "1", throwOnError: false, trust: false, maxExpand: 500, maxSize: 20,
      });
      node.classList.add(node.dataset.display === "1" ? "math" : "math-inline");
    } catch {
      // The source stays visible as written.
    }
  }
}

function finishCode(root: DocumentFragment): void {
  const blocks = root.querySelectorAll<HTMLElement>("pre > code");
  for (const code of blocks) {
    const pre = code.parentElement as HTMLElement;
    const wanted = code.dataset.lang || "";
    const text = code.textContent || "";
    let label = wanted || "code";
    if (!hljs) needCode();
    else if (text.length <= LIMITS.highlightChars) {
      const known = wanted && hljs.getLanguage(wanted) ? wanted : "";
      // Guessing the language is slow on long text; only short unlabelled blocks are guessed.
      const result = known ? hljs.highlight(text, { language: known }) : text.length < 5000 ? hljs.highlightAuto(text) : null;
      if (result) {
        code.innerHTML = result.value; // highlight.js escapes the text it wraps
        code.classList.add("hljs");
        label = known || result.language || label;
      }
    }
    const block = document.createElement("div");
    block.className = "code";
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const name = document.createElement("span");
    name.textContent = label;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.setAttribute("aria-label", "Copy code");
    copy.textContent = "Copy";
    bar.append(name, copy);
    pre.replaceWith(block);
    block.append(bar, pre);
  }
}

function finishLinks(root: DocumentFragment): void {
  for (const link of root.querySelectorAll("a")) {
    const href = link.getAttribute("href") || "";
    if (!SAFE_LINK.test(href)) {
      link.removeAttribute("href");
      continue;
    }
    // Opens outside the app (the window hands new-window links to the system browser).
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer");
  }
}

/** Render assistant Markdown. Anything it can't render safely is shown as plain text. */
export function renderMarkdown(text: string): DocumentFragment {
  if (!fits(text)) return plain(text);
  try {
    const html = marked.parse(text, { async: false }) as string;
    const fragment = DOMPurify.sanitize(html, {
      ALLOWED_TAGS,
      ALLOWED_ATTR,
      ALLOW_DATA_ATTR: false,
      ALLOW_ARIA_ATTR: false,
      SANITIZE_NAMED_PROPS: true,
      RETURN_DOM_FRAGMENT: true,
    });
    finishLinks(fragment);
    finishMath(fragment);
    finishCode(fragment);
    return fragment;
  } catch {
    return plain(text);
  }
}
