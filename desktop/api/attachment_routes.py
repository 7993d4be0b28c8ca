"""The two-phase upload target and the attachment previews."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from desktop import attachment_rules as rules
from desktop.api.engine import StoreHandle
from desktop.api.errors import not_found_is_404
from desktop.errors import InvalidRequestError, PayloadTooLarge


def attachment_router(stores: StoreHandle) -> APIRouter:
    router = APIRouter()

    @router.api_route("/api/attachments/{attachment_id}/upload", methods=["PUT", "POST"])
    @not_found_is_404
    async def upload(attachment_id: str, request: Request) -> Response:
        rules.checked_id(attachment_id)
        files = (await stores.get()).attachments
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > files.max_bytes + 64 * 1024:
            raise PayloadTooLarge(
                f"The file is larger than the {files.max_bytes // (1024 * 1024)} MB limit."
            )
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=10, max_part_size=files.max_bytes + 1)
            file = next((v for v in form.values() if isinstance(v, UploadFile)), None)
            if file is None:
                raise InvalidRequestError("The upload has no file part.")
            attachment = await files.write_attachment_file(attachment_id, _file_chunks(file))
        else:
            attachment = await files.write_attachment_file(attachment_id, request.stream())
        return Response(
            attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True}),
            media_type="application/json",
        )

    @router.get("/api/attachments/{attachment_id}/content")
    @not_found_is_404
    async def attachment_content(attachment_id: str) -> Response:
        attachment, path = await (await stores.get()).attachments.attachment_file(attachment_id)
        # Anything that isn't an image or a PDF is shown as plain text, never rendered as a page.
        media = attachment.mime_type
        if media not in rules.IMAGE_TYPES and media != rules.PDF:
            media = "text/plain; charset=utf-8"
        return FileResponse(
            path,
            media_type=media,
            headers={
                "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.name)}",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    return router


async def _file_chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(64 * 1024):
        yield chunk
