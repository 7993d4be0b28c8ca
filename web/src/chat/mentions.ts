// `@` mentions: past chats and uploaded files from GET /api/entities, for both chat interfaces.
import type { Obj } from "./protocol";

export interface Entity {
  id: string;
  title: string;
  icon?: string;
  group?: string;
  interactive?: boolean;
  data?: Record<string, string>;
}

export async function searchEntities(query: string): Promise<Entity[]> {
  try {
    const response = await fetch(`/api/entities?${new URLSearchParams({ q: query.slice(0, 200), limit: "8" })}`);
    if (!response.ok) return [];
    return ((await response.json()) as { entities: Entity[] }).entities;
  } catch {
    return [];
  }
}

export async function entityPreview(id: string): Promise<Obj | null> {
  try {
    const response = await fetch(`/api/entities/${encodeURIComponent(id)}/preview`);
    return response.ok ? ((await response.json()).preview as Obj) : null;
  } catch {
    return null;
  }
}

/** The message content part for a chosen entity. */
export function tagContent(entity: Entity): Obj {
  return {
    type: "input_tag", id: entity.id, text: entity.title, data: entity.data || {},
    group: entity.group ?? null, interactive: Boolean(entity.interactive),
  };
}
