"""The one shape of every error the HTTP API answers with:
`{"error": {"code": "...", "message": "...", "fields"?: {...}}}`. Built here and nowhere else."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError
from starlette.responses import JSONResponse

from desktop.errors import DesktopError, InvalidRequestError, NotFound

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def error_json(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status)


def parse_body(model: type[Any], body: bytes) -> Any:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise InvalidRequestError(
            "Invalid request: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
        ) from exc


def _error(status: int, code: str, message: str) -> JSONResponse:
    return error_json(status, code, message)


def _is_not_found(exc: BaseException) -> bool:
    # chatkit is imported in the background; an exception of its kind means it is loaded.
    store = sys.modules.get("chatkit.store")
    return store is not None and isinstance(exc, store.NotFoundError)


def not_found_is_404(route: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """chatkit's NotFoundError as our 404, for routes that use the store. (It can't have an
    exception handler of its own: chatkit is not imported when the app is built.)"""

    @functools.wraps(route)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await route(*args, **kwargs)
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFound(f"{exc}.") from exc
            raise

    return wrapper


def error_response(exc: BaseException) -> JSONResponse:
    """The one place a failure on the HTTP API becomes a response."""
    if isinstance(exc, DesktopError):
        return error_json(exc.status_code, exc.code, exc.message, exc.fields or None)
    if _is_not_found(exc):
        return _error(404, "not_found", f"{exc}.")
    if isinstance(exc, ValueError | NotImplementedError):
        # chatkit reports a request that doesn't fit the thread's state this way.
        return _error(400, "invalid_request", str(exc)[:300] or "Invalid request.")
    log.error("unexpected error", exc_info=exc)
    return _error(
        500, "internal", "Something went wrong inside ChatKit Desktop. The details are in the log."
    )
