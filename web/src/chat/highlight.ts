// Loaded on the first code block, so the first paint doesn't carry highlight.js.
import "highlight.js/styles/github.css";

export { default } from "highlight.js/lib/common";
