// A chat's title that the model was still writing when its reply ended is saved on its own later
// (or never, with titles turned off): look for it a few times, sooner first.
import type { ChatKitApi, ThreadMeta } from "./protocol";

// About a minute in all: a local model loading from disk can take that long.
const CHECKS_MS = [1000, 2000, 3000, 5000, 8000, 13000, 21000];

export class LateTitles {
  private waiting = new Set<string>();

  constructor(private api: ChatKitApi, private found: (threadId: string, title: string) => void) {}

  async watch(threadId: string): Promise<void> {
    if (this.waiting.has(threadId)) return;
    this.waiting.add(threadId);
    try {
      for (const delay of CHECKS_MS) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        const thread = await this.api.call<ThreadMeta>("threads.get_by_id", { thread_id: threadId });
        if (!thread.title) continue;
        this.found(threadId, thread.title);
        return;
      }
    } catch {
      // Deleted meanwhile, or the server is gone: the next list shows whatever was saved.
    } finally {
      this.waiting.delete(threadId);
    }
  }
}
