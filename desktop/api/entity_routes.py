"""`@` mentions: GET /api/entities?q= (what ChatKit's `entities.onTagSearch` and the built-in
picker call; a stable interface) and a short preview of one entity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from desktop.api.engine import StoreHandle
from desktop.errors import InvalidRequestError, NotFound
from desktop.mcp import resources
from desktop.mcp.hub import McpHub

MAX_QUERY_CHARS = 200
PREVIEW_CHARS = 600


def entity_router(stores: StoreHandle, hub: McpHub | None = None) -> APIRouter:
    router = APIRouter()

    @router.get("/api/entities")
    async def entities(q: str = "", limit: int = 10) -> dict[str, Any]:
        if len(q) > MAX_QUERY_CHARS:
            raise InvalidRequestError(
                f"The search is too long (over {MAX_QUERY_CHARS} characters)."
            )
        found = await (await stores.get()).entities.find(q, limit)
        if hub is not None and len(found) < limit:
            found += resources.find(hub, q, limit - len(found))
        return {"entities": found}

    @router.get("/api/entities/{entity_id:path}/preview")
    async def preview(entity_id: str) -> dict[str, Any]:
        from chatkit.widgets import DynamicWidgetRoot

        from desktop.store.entities import CHAT_PREFIX, FILE_PREFIX

        store = await stores.get()
        children: list[dict[str, Any]]
        if entity_id.startswith(CHAT_PREFIX):
            found = await store.entities.chat_text(
                entity_id.removeprefix(CHAT_PREFIX), PREVIEW_CHARS
            )
            if found is None:
                raise NotFound("That chat no longer exists.")
            title, text = found
            children = [
                {"type": "Title", "value": title or "New chat", "size": "sm"},
                {"type": "Text", "value": text or "(no messages yet)", "size": "sm"},
            ]
        elif entity_id.startswith(FILE_PREFIX):
            row = await store.attachments.record(entity_id.removeprefix(FILE_PREFIX))
            if row is None:
                raise NotFound("That file no longer exists.")
            import json

            info = json.loads(row[0])
            size = row[1] or 0
            children = [
                {"type": "Title", "value": str(info.get("name", "file")), "size": "sm"},
                {"type": "Caption", "value": f"{info.get('mime_type', '')}, {size:,} bytes"},
            ]
        elif hub is not None and (where := resources.split_id(entity_id)) is not None:
            content = await resources.read_text(hub, where[0], where[1], PREVIEW_CHARS)
            if content is None:
                raise NotFound(f"That resource of {where[0][:64]} can't be read now.")
            children = [
                {"type": "Title", "value": where[1][:200], "size": "sm"},
                {"type": "Caption", "value": f"From the MCP server {where[0][:64]}"},
                {"type": "Text", "value": content or "(empty)", "size": "sm"},
            ]
        else:
            raise NotFound("Unknown entity.")
        widget = DynamicWidgetRoot.model_validate(
            {"type": "Basic", "children": [{"type": "Col", "gap": 1, "children": children}]}
        )
        return {"preview": widget.model_dump(exclude_none=True)}

    return router
