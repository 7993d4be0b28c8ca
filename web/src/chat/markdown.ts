// Assistant text -> safe HTML: Markdown (marked), LaTeX (KaTeX), code highlighting (highlight.js),
// and DOMPurify last, so nothing a model writes can run script in the page.
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/common";
import katex from "katex";
import { Marked } from "marked";

function renderMath(tex: string, displayMode: boolean): string {
  try {
    return katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml" });
  } catch {
    return tex;
  }
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
      renderer: (token) => `<div class="math">${renderMath(String(token.text), true)}</div>`,
    },
    {
      name: "inlineMath",
      level: "inline",
      start: (src: string) => src.search(/\$[^\s$]/),
      tokenizer(src: string) {
        const match = /^\$([^\s$](?:[^$\n]*[^\s$])?)\$(?!\d)/.exec(src);
        return match ? { type: "inlineMath", raw: match[0], text: match[1] } : undefined;
      },
      renderer: (token) => renderMath(String(token.text), false),
    },
  ],
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : undefined;
      const html = language
        ? hljs.highlight(text, { language }).value
        : hljs.highlightAuto(text).value;
      const label = language || "code";
      return (
        `<div class="code"><div class="code-bar"><span>${label}</span>` +
        `<button type="button" class="copy" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="hljs">${html}</code></pre></div>`
      );
    },
  },
});

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false }) as string;
  return DOMPurify.sanitize(html, {
    ADD_TAGS: ["math", "semantics", "mrow", "mi", "mo", "mn", "msup", "msub", "mfrac", "msqrt", "annotation"],
    ADD_ATTR: ["aria-hidden", "encoding"],
    FORBID_TAGS: ["style", "form", "input"],
  });
}
