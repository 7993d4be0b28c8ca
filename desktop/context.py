"""The per-request context that the HTTP layer hands to the ChatKit server and the store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    # Where this client reached us, so that URLs we hand back (uploads, previews) work for it.
    base_url: str = "http://127.0.0.1"
    # Headers a client must send with a two-phase upload, so the upload passes authentication.
    upload_headers: dict[str, str] = field(default_factory=dict)

    # The routes that serve attachments, named once (the HTTP layer mounts them here).
    def upload_url(self, attachment_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/attachments/{attachment_id}/upload"

    def content_url(self, attachment_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/attachments/{attachment_id}/content"
