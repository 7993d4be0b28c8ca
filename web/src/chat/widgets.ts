// Renders ChatKit widgets (the JSON component tree) as accessible DOM, and reports actions.
import { h } from "./dom";
import { icon } from "./icons";
import { renderMarkdown } from "./markdown";
import type { Obj } from "./protocol";

export type ActionHandler = (action: Obj, widgetItemId: string) => void;

function el(tag: keyof HTMLElementTagNameMap, className: string, text?: string): HTMLElement {
  return h(tag, { class: className }, ...(text === undefined ? [] : [text]));
}

function formValues(form: HTMLFormElement): Obj {
  const values: Obj = {};
  new FormData(form).forEach((value, key) => {
    values[key] = typeof value === "string" ? value : value.name;
  });
  return values;
}

function children(node: Obj, itemId: string, onAction: ActionHandler, into: HTMLElement): HTMLElement {
  for (const child of Array.isArray(node.children) ? node.children : []) {
    into.append(renderComponent(child, itemId, onAction));
  }
  return into;
}

function layout(node: Obj, into: HTMLElement): HTMLElement {
  if (node.gap !== undefined) into.style.gap = typeof node.gap === "number" ? `${node.gap * 4}px` : String(node.gap);
  if (node.align) into.style.alignItems = String(node.align);
  if (node.justify) into.style.justifyContent = String(node.justify);
  return into;
}

export function renderComponent(node: Obj, itemId: string, onAction: ActionHandler): HTMLElement {
  switch (node.type) {
    case "Card": {
      const card = children(node, itemId, onAction, el("div", "w-card"));
      if (node.asForm) return wrapForm(card, node, itemId, onAction);
      return card;
    }
    case "ListView":
      return children(node, itemId, onAction, el("ul", "w-list"));
    case "ListViewItem": {
      const li = children(node, itemId, onAction, el("li", "w-list-item"));
      if (node.onClickAction) {
        li.tabIndex = 0;
        li.setAttribute("role", "button");
        li.addEventListener("click", () => onAction(node.onClickAction, itemId));
        li.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            onAction(node.onClickAction, itemId);
          }
        });
      }
      return li;
    }
    case "Box":
    case "Col":
      return layout(node, children(node, itemId, onAction, el("div", "w-col")));
    case "Row":
      return layout(node, children(node, itemId, onAction, el("div", "w-row")));
    case "Text": {
      const text = el("p", `w-text${node.streaming ? " streaming" : ""}`, String(node.value ?? ""));
      if (node.weight) text.style.fontWeight = { medium: "500", semibold: "600", bold: "700" }[String(node.weight)] ?? "";
      return text;
    }
    case "Title":
      return el("h3", "w-title", String(node.value ?? ""));
    case "Caption":
      return el("p", "w-caption", String(node.value ?? ""));
    case "Markdown": {
      const div = el("div", "w-markdown markdown");
      div.replaceChildren(renderMarkdown(String(node.value ?? "")));
      return div;
    }
    case "Badge":
      return el("span", `w-badge ${node.color ? `w-badge-${node.color}` : ""}`, String(node.label ?? ""));
    case "Button": {
      const button = el("button", `w-button${node.style === "primary" ? " primary" : ""}`, String(node.label ?? "")) as HTMLButtonElement;
      button.type = node.submit ? "submit" : "button";
      if (!node.submit && node.onClickAction) button.addEventListener("click", () => onAction(node.onClickAction, itemId));
      return button;
    }
    case "Image": {
      const img = document.createElement("img");
      img.className = "w-image";
      img.src = String(node.src ?? "");
      img.alt = String(node.alt ?? "");
      return img;
    }
    case "Icon": {
      const span = el("span", "w-icon");
      span.setAttribute("aria-hidden", "true");
      span.append(icon(String(node.name ?? "")));
      return span;
    }
    case "Divider":
      return el("hr", "w-divider");
    case "Spacer":
      return el("div", "w-spacer");
    case "Form":
      return wrapForm(children(node, itemId, onAction, el("div", "w-col")), node, itemId, onAction);
    case "Select": {
      const select = document.createElement("select");
      select.className = "w-select";
      select.name = String(node.name ?? "");
      select.setAttribute("aria-label", String(node.placeholder ?? node.name ?? "Choose"));
      for (const option of node.options || []) {
        select.append(new Option(String(option.label ?? option.value), String(option.value), false, option.value === node.defaultValue));
      }
      return select;
    }
    case "DatePicker": {
      const input = document.createElement("input");
      input.type = "date";
      input.className = "w-date";
      input.name = String(node.name ?? "");
      input.setAttribute("aria-label", String(node.placeholder ?? node.name ?? "Date"));
      if (node.defaultValue) input.value = String(node.defaultValue).slice(0, 10);
      return input;
    }
    case "Input":
    case "Textarea": {
      const input = document.createElement(node.type === "Textarea" ? "textarea" : "input") as HTMLInputElement;
      input.className = "w-input";
      input.name = String(node.name ?? "");
      input.placeholder = String(node.placeholder ?? "");
      input.setAttribute("aria-label", String(node.placeholder ?? node.name ?? "Input"));
      return input;
    }
    default: {
      // An unknown component still shows its children and any text, never nothing.
      const box = children(node, itemId, onAction, el("div", "w-col w-unknown"));
      if (typeof node.value === "string") box.prepend(el("p", "w-text", node.value));
      return box;
    }
  }
}

function wrapForm(body: HTMLElement, node: Obj, itemId: string, onAction: ActionHandler): HTMLElement {
  const form = document.createElement("form");
  form.className = "w-form";
  form.append(body);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = node.onSubmitAction;
    if (action) onAction({ ...action, payload: { ...(action.payload || {}), ...formValues(form) } }, itemId);
  });
  return form;
}
