"""POST /chatkit (the ChatKit protocol) and the feedback the protocol saves but never returns."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.responses import StreamingResponse

from desktop.api.engine import ChatEngine, StoreHandle
from desktop.api.errors import error_response, not_found_is_404
from desktop.api.security import MAX_CHATKIT_BODY
from desktop.context import RequestContext
from desktop.errors import PayloadTooLarge

log = logging.getLogger(__name__)

_STREAM_ERROR = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'


async def _guarded_stream(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is not None:
        yield first
    try:
        async for chunk in rest:
            yield chunk
    except Exception:
        # The response has started, so a status code is no longer possible: end with an error event.
        log.exception("stream failed")
        yield _STREAM_ERROR


def chatkit_router(
    chat: ChatEngine, stores: StoreHandle, context_for: Callable[[Request], RequestContext]
) -> APIRouter:
    router = APIRouter()
    context_for_store = RequestContext()

    @router.post("/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_CHATKIT_BODY:
            raise PayloadTooLarge("The request is too large.")
        body = await request.body()
        try:
            server = await chat.server()
        except Exception as exc:
            return error_response(exc)
        from desktop.chat.protocol import parse_request  # loaded with the server, above

        parsed = parse_request(body)
        try:
            from chatkit.server import NonStreamingResult  # loaded with the server, above

            result = await server.handle(parsed, context_for(request))
            if isinstance(result, NonStreamingResult):
                return Response(content=result.json, media_type="application/json")
            # Pull the first event before answering, so a bad reference still gets a 4xx.
            events = aiter(result)
            first = await anext(events, None)
        except Exception as exc:
            return error_response(exc)
        return StreamingResponse(
            _guarded_stream(first, events),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    @router.get("/api/threads/{thread_id}/feedback")
    @not_found_is_404
    async def thread_feedback(thread_id: str) -> dict[str, dict[str, str]]:
        # The protocol saves feedback but never returns it; the built-in client shows it again.
        db = await stores.get()
        await db.load_thread(thread_id, context_for_store)
        return {"feedback": await db.feedback.load(thread_id)}

    @router.delete("/api/threads/{thread_id}/feedback/{item_id}", status_code=204)
    @not_found_is_404
    async def clear_feedback(thread_id: str, item_id: str) -> Response:
        db = await stores.get()
        await db.load_thread(thread_id, context_for_store)
        await db.feedback.clear(thread_id, item_id)
        return Response(status_code=204)

    return router
