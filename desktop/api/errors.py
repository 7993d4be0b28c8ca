"""The one shape of every error the HTTP API answers with:
`{"error": {"code": "...", "message": "...", "fields"?: {...}}}`. Built here and nowhere else."""

from __future__ import annotations

from starlette.responses import JSONResponse


def error_json(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status)
