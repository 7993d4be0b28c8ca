// The ChatKit wire protocol as the built-in client uses it: one POST endpoint, JSON replies for
// reads, and POST-based server-sent events for turns (EventSource can't POST, so the fetch body
// is read as a stream).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Obj = { [key: string]: any };

export interface ThreadMeta {
  id: string;
  title?: string | null;
  created_at: string;
  status?: { type: string; reason?: string };
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  after?: string | null;
}

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export function userInput(text: string, attachments: string[] = [], options: Obj = {}, tags: Obj[] = []): Obj {
  return { content: [{ type: "input_text", text }, ...tags], attachments, inference_options: options };
}

export class ChatKitApi {
  constructor(readonly url = "/chatkit") {}

  async call<T = Obj>(type: string, params: Obj = {}): Promise<T> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type, params }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError((body.error && body.error.message) || `HTTP ${response.status}`, response.status);
    }
    return body as T;
  }

  /** Run a streaming request, calling `onEvent` for each event. Resolves when the stream ends. */
  async stream(type: string, params: Obj, onEvent: (event: Obj) => void, signal?: AbortSignal): Promise<void> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ type, params }),
      signal,
    });
    if (!response.ok || !response.body) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError((body.error && body.error.message) || `HTTP ${response.status}`, response.status);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) onEvent(JSON.parse(data));
      }
    }
  }
}
