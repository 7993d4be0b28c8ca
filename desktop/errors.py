"""The app's domain errors. Each carries the sentence a user should read.

They are turned into user-facing output in exactly two places: `desktop.chat.server` (a ChatKit
`CustomStreamError` in the chat) and `desktop.api.app` (an HTTP JSON error on the API).
"""

from __future__ import annotations


class DesktopError(Exception):
    """Base class. `message` is safe to show to the user: it never contains a secret."""

    status_code = 500
    code = "internal"
    allow_retry = False

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Which form fields the message is about (the page marks them).
        self.fields = fields or {}


# --- request and store errors (HTTP boundary) ---


class InvalidRequestError(DesktopError):
    status_code = 400
    code = "invalid_request"


class NotFound(DesktopError):
    status_code = 404
    code = "not_found"


class PayloadTooLarge(DesktopError):
    status_code = 413
    code = "too_large"


class UnsupportedMediaType(DesktopError):
    status_code = 415
    code = "unsupported_media_type"


class Busy(DesktopError):
    """Another long operation on the same data (an import, a restore) is under way."""

    status_code = 409
    code = "busy"


class AppClosing(DesktopError):
    """The app is quitting; what the request wanted was not done."""

    status_code = 503
    code = "closing"

    def __init__(self) -> None:
        super().__init__("ChatKit Desktop is closing.")


class StoreError(DesktopError):
    """The data file cannot be used: corrupt, newer than this app, or unwritable."""

    status_code = 503
    code = "store_unavailable"


class BackupRefused(StoreError):
    """A backup is damaged, or holds something this app never writes (a link, a schema object
    of its own); nothing was changed."""

    status_code = 422
    code = "backup_refused"


class ImportRefused(StoreError):
    """An import file the app won't read (nested too deeply, one part too large); nothing was
    imported. A StoreError, so every caller that reports a bad import file reports this too."""

    status_code = 422
    code = "import_refused"


class ConfigError(DesktopError):
    status_code = 400
    code = "invalid_settings"


# --- provider errors (chat boundary) ---


class ProviderError(DesktopError):
    """A failure talking to the model provider, worded for the chat."""

    status_code = 502
    code = "provider_error"
    allow_retry = True


class MissingApiKey(ProviderError):
    code = "missing_api_key"
    allow_retry = False


class KeyRejected(ProviderError):
    code = "key_rejected"
    allow_retry = False


class ModelNotFound(ProviderError):
    code = "model_not_found"
    allow_retry = False


class RateLimited(ProviderError):
    code = "rate_limited"


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"


class ProviderUnreachable(ProviderError):
    code = "provider_unreachable"


class ResponseInterrupted(ProviderError):
    code = "response_interrupted"
