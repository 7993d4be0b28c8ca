"""Assistants (Settings), what the composer offers (assistants and models), a chat's remembered
choices, and search across all chats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from desktop.api.engine import StoreHandle
from desktop.api.errors import not_found_is_404, parse_body
from desktop.context import RequestContext
from desktop.errors import InvalidRequestError
from desktop.settings.config import ProviderConfig
from desktop.tool_keys import ALL_MCP, describe

if TYPE_CHECKING:
    from desktop.chat.models import ModelCatalog
    from desktop.store.assistants import Assistants

MAX_QUERY_CHARS = 500


def assistant_router(
    stores: StoreHandle,
    models: Callable[[], Awaitable[ModelCatalog]],
    config: Callable[[], ProviderConfig],
    today: Callable[[], date] = date.today,
) -> APIRouter:
    router = APIRouter()
    ctx = RequestContext()

    async def assistants() -> Assistants:
        from desktop.chat.tools.catalog import CATALOG
        from desktop.store.assistants import Assistants

        return Assistants((await stores.get()).database, CATALOG, lambda: config().system_prompt)

    def draft(body: bytes) -> Any:
        from desktop.store.assistants import AssistantDraft

        return parse_body(AssistantDraft, body)

    @router.get("/api/assistants")
    async def list_assistants() -> dict[str, Any]:
        from desktop.chat.tools.catalog import CATALOG, catalog_view

        listed = await (await assistants()).list()
        keys = {key for a in listed for key in a.tools}
        return {
            "assistants": [a.view() for a in listed],
            "tools": catalog_view(hosted_available=config().runs_hosted_tools),
            # Tool keys are the server's to read: the page shows these names and offers this key
            # for every MCP server.
            "tool_labels": {
                key: describe(key) or (CATALOG[key].label if key in CATALOG else key)
                for key in sorted(keys)
            },
            "all_mcp": ALL_MCP,
        }

    @router.post("/api/assistants", status_code=201)
    async def create_assistant(request: Request) -> JSONResponse:
        created = await (await assistants()).create(draft(await request.body()))
        return JSONResponse(created.view(), status_code=201)

    @router.put("/api/assistants/{assistant_id}")
    async def update_assistant(assistant_id: str, request: Request) -> dict[str, Any]:
        return (await (await assistants()).update(assistant_id, draft(await request.body()))).view()

    @router.post("/api/assistants/{assistant_id}/duplicate", status_code=201)
    async def duplicate_assistant(assistant_id: str) -> JSONResponse:
        return JSONResponse((await (await assistants()).duplicate(assistant_id)).view(), 201)

    @router.delete("/api/assistants/{assistant_id}", status_code=204)
    async def delete_assistant(assistant_id: str) -> Response:
        await (await assistants()).delete(assistant_id)
        return Response(status_code=204)

    @router.get("/api/composer")
    async def composer() -> dict[str, Any]:
        """What the composer's pickers offer: the assistants, and the provider's models (or the
        configured model alone when the provider can't list them)."""
        from desktop.chat.model_choice import model_for

        cfg = config()
        found = await (await models()).list(cfg)
        listed = await (await assistants()).list()
        day = today()
        host = urlsplit(cfg.base_url).netloc or cfg.base_url
        named = [cfg.model, *(a.model for a in listed if a.model)]
        return {
            "assistants": [
                {"id": a.id, "name": a.name, "model": a.model, "builtin": a.builtin} for a in listed
            ],
            "models": list(found.models),
            "default_model": cfg.model,
            "models_listed": found.listed,
            "models_message": found.message,
            # A model's shutdown (`{shutdown_date, shutdown_words, replacement, retired}`), for
            # the pickers, Settings and the assistant form to warn and offer the replacement.
            "retiring": found.retirements_view(day, named),
            # What each named model really runs on now (a new chat's model and its notice),
            # when that isn't the model itself: shut down, or not offered by the provider.
            "substitutes": {
                name: {"model": use.model, "notice": use.notice}
                for name in dict.fromkeys(named)
                if (use := model_for(found, name, day, host)).model != name
            },
        }

    @router.get("/api/threads/{thread_id}/choice")
    @not_found_is_404
    async def thread_choice(thread_id: str) -> dict[str, Any]:
        from desktop.chat.choices import ChatChoice

        thread = await (await stores.get()).load_thread(thread_id, ctx)
        return ChatChoice.of(thread).view()

    @router.get("/api/search")
    async def search(q: str = "", limit: int = 20) -> dict[str, Any]:
        if len(q) > MAX_QUERY_CHARS:
            raise InvalidRequestError(
                f"The search is too long (over {MAX_QUERY_CHARS} characters)."
            )
        hits = await (await stores.get()).search.search(q, limit)
        return {"query": q, "results": [h.view() for h in hits]}

    return router
