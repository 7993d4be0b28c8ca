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
  // Most containers hold a list; Basic and Transition may hold a single component.
  const kids = Array.isArray(node.children) ? node.children : node.children && typeof node.children === "object" ? [node.children] : [];
  for (const child of kids) into.append(renderComponent(child, itemId, onAction));
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
    case "Basic":
      return layout(node, children(node, itemId, onAction, el("div", "w-col w-basic")));
    case "Transition":
      return children(node, itemId, onAction, el("div", "w-transition"));
    case "Label": {
      const label = el("label", "w-label", String(node.value ?? ""));
      label.dataset.field = String(node.fieldName ?? "");
      return label;
    }
    case "Checkbox": {
      const box = h("input", { type: "checkbox", name: String(node.name ?? ""), disabled: node.disabled ? "" : undefined });
      box.checked = Boolean(node.defaultChecked);
      if (node.onChangeAction) {
        box.addEventListener("change", () => onAction({ ...node.onChangeAction, payload: { ...(node.onChangeAction.payload || {}), [box.name]: box.checked } }, itemId));
      }
      return h("label", { class: "w-check" }, box, String(node.label ?? ""));
    }
    case "RadioGroup": {
      const group = h("div", { class: `w-radios ${node.direction === "row" ? "w-row" : "w-col"}`, role: "radiogroup", "aria-label": String(node.ariaLabel ?? node.name ?? "Choose") });
      for (const option of node.options || []) {
        const radio = h("input", { type: "radio", name: String(node.name ?? ""), value: String(option.value), disabled: node.disabled || option.disabled ? "" : undefined });
        radio.checked = option.value === node.defaultValue;
        if (node.onChangeAction) {
          radio.addEventListener("change", () => onAction({ ...node.onChangeAction, payload: { ...(node.onChangeAction.payload || {}), [radio.name]: radio.value } }, itemId));
        }
        group.append(h("label", { class: "w-check" }, radio, String(option.label ?? option.value)));
      }
      return group;
    }
    case "Chart":
      return renderChart(node);
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

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2f6fed", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb"];

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** A Chart (bar, line and area series over one x axis) as SVG, with the numbers in a table too. */
function renderChart(node: Obj): HTMLElement {
  const data: Obj[] = Array.isArray(node.data) ? node.data : [];
  const series: Obj[] = Array.isArray(node.series) ? node.series : [];
  const xKey = typeof node.xAxis === "string" ? node.xAxis : String(node.xAxis?.dataKey ?? "");
  const width = 480, height = 200, pad = 24;
  const values = data.flatMap((row) => series.map((s) => Number(row[s.dataKey]) || 0));
  const max = Math.max(1, ...values);
  const step = (width - 2 * pad) / Math.max(1, data.length);
  const y = (v: number) => height - pad - ((height - 2 * pad) * v) / max;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "w-chart-svg", role: "img", "aria-label": "Chart" });
  chart.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor", "stroke-opacity": 0.3 }));
  const bars = series.filter((s) => s.type === "bar");
  series.forEach((s, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = data.map((row, i) => [pad + step * i + step / 2, y(Number(row[s.dataKey]) || 0)]);
    if (s.type === "bar") {
      const slot = step / (bars.length + 1);
      const at = bars.indexOf(s);
      data.forEach((row, i) => {
        const value = Number(row[s.dataKey]) || 0;
        chart.append(svg("rect", { x: pad + step * i + slot * (at + 0.5), y: y(value), width: slot * 0.9, height: height - pad - y(value), fill: color }));
      });
    } else if (s.type === "area") {
      const area = [[pad + step / 2, height - pad], ...points, [pad + step * (data.length - 0.5), height - pad]];
      chart.append(svg("polygon", { points: area.map((p) => p.join(",")).join(" "), fill: color, "fill-opacity": 0.25, stroke: color }));
    } else {
      chart.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    }
  });
  data.forEach((row, i) => {
    const label = svg("text", { x: pad + step * i + step / 2, y: height - 6, "text-anchor": "middle", "font-size": 11, fill: "currentColor" });
    label.textContent = String(row[xKey] ?? "");
    chart.append(label);
  });
  const table = h("table", { class: "visually-hidden" },
    h("tr", {}, h("th", {}, xKey), ...series.map((s) => h("th", {}, String(s.label ?? s.dataKey)))),
    ...data.map((row) => h("tr", {}, h("td", {}, String(row[xKey] ?? "")), ...series.map((s) => h("td", {}, String(row[s.dataKey] ?? ""))))));
  const legend = h("div", { class: "w-row w-legend" }, ...series.map((s, index) => {
    const swatch = h("span", { class: "w-swatch" });
    swatch.style.background = PALETTE[index % PALETTE.length]; // CSSOM: no inline style attribute
    return h("span", { class: "w-caption" }, swatch, String(s.label ?? s.dataKey));
  }));
  const wrap = el("figure", "w-chart");
  wrap.append(chart, legend, table);
  return wrap;
}
