"""Images the model generates (OpenAI's hosted image tool) are kept as files of the chat, like
uploads, so chats.db holds a link instead of megabytes of base64."""

from __future__ import annotations

import base64
import binascii

from chatkit.agents import ResponseStreamConverter

from desktop.context import RequestContext
from desktop.store.attachment_store import AttachmentFiles

_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def image_type(data: bytes) -> str:
    return next((mime for magic, mime in _MAGIC.items() if data.startswith(magic)), "image/png")


class StoredImages(ResponseStreamConverter):
    def __init__(self, files: AttachmentFiles, thread_id: str, context: RequestContext) -> None:
        super().__init__(partial_images=3)
        self._files = files
        self._thread_id = thread_id
        self._context = context

    async def base64_image_to_url(
        self, image_id: str, base64_image: str, partial_image_index: int | None = None
    ) -> str:
        if partial_image_index is not None:
            # A preview while it is drawn: streamed only, replaced by the finished image.
            return f"data:image/png;base64,{base64_image}"
        try:
            data = base64.b64decode(base64_image, validate=True)
        except (binascii.Error, ValueError):
            return ""
        mime = image_type(data)
        extension = mime.split("/")[1].replace("jpeg", "jpg")
        saved = await self._files.save_generated(
            self._thread_id, f"generated-image.{extension}", mime, data, self._context
        )
        # A path, not a full URL: the app's port changes from one launch to the next.
        return f"/api/attachments/{saved.id}/content"
