// Applies ChatKit stream events to a thread's state. Every event and update type in chatkit's
// ThreadStreamEvent union has a handler here; the test suite checks this against chatkit's own
// schema, so a new type in chatkit fails the build until it is handled.
import type { Obj, ThreadMeta } from "./protocol";

export interface Notice {
  level: "info" | "warning" | "danger";
  message: string;
  title?: string | null;
}

export interface ThreadState {
  thread: ThreadMeta | null;
  order: string[];
  items: Map<string, Obj>;
  allowCancel: boolean;
  progress: string | null;
  notices: Notice[];
  error: { message: string; allowRetry: boolean } | null;
  effects: Obj[];
  changed: Set<string>;
}

export function emptyState(): ThreadState {
  return {
    thread: null, order: [], items: new Map(), allowCancel: false, progress: null, notices: [],
    error: null, effects: [], changed: new Set(),
  };
}

const GENERIC_ERROR = "Something went wrong while generating a reply.";

function put(state: ThreadState, item: Obj): void {
  if (!state.items.has(item.id)) state.order.push(item.id);
  state.items.set(item.id, item);
  state.changed.add(item.id);
}

function ensureContent(item: Obj, index: number): Obj {
  item.content = item.content || [];
  while (item.content.length <= index) item.content.push({ type: "output_text", text: "", annotations: [] });
  return item.content[index];
}

function findComponent(node: Obj, id: string): Obj | null {
  if (!node || typeof node !== "object") return null;
  if (node.id === id) return node;
  for (const child of Array.isArray(node.children) ? node.children : []) {
    const found = findComponent(child, id);
    if (found) return found;
  }
  return null;
}

export const UPDATE_HANDLERS: Record<string, (item: Obj, update: Obj) => void> = {
  "assistant_message.content_part.added": (item, u) => {
    ensureContent(item, u.content_index);
    item.content[u.content_index] = { ...u.content };
  },
  "assistant_message.content_part.text_delta": (item, u) => {
    ensureContent(item, u.content_index).text += u.delta;
  },
  "assistant_message.content_part.annotation_added": (item, u) => {
    const part = ensureContent(item, u.content_index);
    part.annotations = part.annotations || [];
    part.annotations.splice(u.annotation_index, 0, u.annotation);
  },
  "assistant_message.content_part.done": (item, u) => {
    ensureContent(item, u.content_index);
    item.content[u.content_index] = { ...u.content };
  },
  "widget.streaming_text.value_delta": (item, u) => {
    const node = findComponent(item.widget, u.component_id);
    if (node) {
      node.value = (node.value || "") + u.delta;
      node.streaming = !u.done;
    }
  },
  "widget.root.updated": (item, u) => {
    item.widget = u.widget;
  },
  "widget.component.updated": (item, u) => {
    const node = findComponent(item.widget, u.component_id);
    if (node) {
      for (const key of Object.keys(node)) delete node[key];
      Object.assign(node, u.component);
    }
  },
  "workflow.task.added": (item, u) => {
    item.workflow.tasks.splice(u.task_index, 0, u.task);
  },
  "workflow.task.updated": (item, u) => {
    item.workflow.tasks[u.task_index] = u.task;
  },
  "generated_image.updated": (item, u) => {
    item.image = u.image;
    item.progress = u.progress;
  },
};

export const EVENT_HANDLERS: Record<string, (state: ThreadState, event: Obj) => void> = {
  "thread.created": (s, e) => {
    s.thread = e.thread;
    for (const item of e.thread.items?.data || []) put(s, item);
  },
  "thread.updated": (s, e) => {
    s.thread = { ...(s.thread || {}), ...e.thread };
  },
  "thread.item.added": (s, e) => put(s, e.item),
  "thread.item.done": (s, e) => put(s, e.item),
  "thread.item.replaced": (s, e) => put(s, e.item),
  "thread.item.removed": (s, e) => {
    s.items.delete(e.item_id);
    s.order = s.order.filter((id) => id !== e.item_id);
    s.changed.add(e.item_id);
  },
  "thread.item.updated": (s, e) => {
    const item = s.items.get(e.item_id);
    const handler = UPDATE_HANDLERS[e.update?.type];
    if (item && handler) {
      handler(item, e.update);
      s.changed.add(e.item_id);
    }
  },
  stream_options: (s, e) => {
    s.allowCancel = Boolean(e.stream_options?.allow_cancel);
  },
  progress_update: (s, e) => {
    s.progress = e.text;
  },
  client_effect: (s, e) => {
    s.effects.push({ name: e.name, data: e.data || {} });
  },
  notice: (s, e) => {
    s.notices.push({ level: e.level, message: e.message, title: e.title });
  },
  error: (s, e) => {
    s.error = { message: e.message || GENERIC_ERROR, allowRetry: Boolean(e.allow_retry) };
  },
};

/** Apply one event. Returns false for a type this client doesn't know (it is then ignored). */
export function applyEvent(state: ThreadState, event: Obj): boolean {
  const handler = EVENT_HANDLERS[event.type];
  if (!handler) return false;
  handler(state, event);
  return true;
}

export function loadThread(thread: Obj, items: Obj[]): ThreadState {
  const state = emptyState();
  state.thread = thread as ThreadMeta;
  for (const item of items) put(state, item);
  return state;
}
