// Loaded on the first formula, so the first paint doesn't carry KaTeX and its fonts.
import "katex/dist/katex.min.css";

export { default } from "katex";
