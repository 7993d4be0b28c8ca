// A chat's thumbs up and down: read when the chat opens, saved or taken back from the transcript.
import type { ChatKitApi } from "./protocol";

export type FeedbackKind = "positive" | "negative";

/** The saved feedback of a chat, by item id; none when it can't be read. */
export async function loadFeedback(threadId: string): Promise<Map<string, string>> {
  try {
    const response = await fetch(`/api/threads/${encodeURIComponent(threadId)}/feedback`);
    if (!response.ok) return new Map();
    const body = await response.json();
    return new Map(Object.entries(body.feedback || {}) as [string, string][]);
  } catch {
    return new Map();
  }
}

/** Saves `kind` for the item, or takes it back when it is the kind already saved (pressing the
 * same thumb again). Returns what is saved now: the kind, or null. */
export async function toggleFeedback(
  api: ChatKitApi, threadId: string, itemId: string, kind: FeedbackKind, saved: string | undefined,
): Promise<FeedbackKind | null> {
  if (saved === kind) {
    const url = `/api/threads/${encodeURIComponent(threadId)}/feedback/${encodeURIComponent(itemId)}`;
    const response = await fetch(url, { method: "DELETE" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return null;
  }
  await api.call("items.feedback", { thread_id: threadId, item_ids: [itemId], kind });
  return kind;
}
