// The one DOM helper: an element with attributes, listeners (`on…`) and children.
export type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = String(value ?? "");
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value as EventListener);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  node.append(...kids);
  return node;
}
