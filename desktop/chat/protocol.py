"""Parsing ChatKit requests, with errors that name the problem."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, get_args

from chatkit.types import ChatKitReq
from pydantic import TypeAdapter, ValidationError

from desktop.errors import InvalidRequestError

MAX_REQUEST_BYTES = 8 * 1024 * 1024


@cache
def request_adapter() -> TypeAdapter[ChatKitReq]:
    # Built once: chatkit builds this adapter on every call, which costs more than a page read.
    return TypeAdapter(ChatKitReq)


@cache
def known_types() -> frozenset[str]:
    union = get_args(ChatKitReq)[0]
    return frozenset(model.model_fields["type"].default for model in get_args(union))


def parse_request(raw: bytes | str) -> ChatKitReq:
    if len(raw) > MAX_REQUEST_BYTES:
        raise InvalidRequestError("The request is too large.")
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise InvalidRequestError("The request body is nested too deeply.") from exc
    if not isinstance(payload, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise InvalidRequestError("The request has no 'type'.")
    if kind not in known_types():
        raise InvalidRequestError(f"Unknown request type '{kind[:80]}'.")
    try:
        return request_adapter().validate_python(payload)
    except RecursionError as exc:
        raise InvalidRequestError("The request body is nested too deeply.") from exc
    except ValidationError as exc:
        raise InvalidRequestError(describe(exc, skip=1)) from exc


def describe(exc: ValidationError, skip: int = 0) -> str:
    """'params.input.content: Field required' for the first few problems."""
    parts = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error["loc"][skip:])
        parts.append(f"{loc or 'body'}: {error['msg']}")
    more = len(exc.errors()) - 3
    return (
        "Invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "") + "."
    )
