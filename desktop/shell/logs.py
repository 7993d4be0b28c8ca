"""Logging: a rotating file in the log dir, warnings on stderr, secrets masked everywhere."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Callable, Iterable
from pathlib import Path

LOG_FILENAME = "chatkit-desktop.log"


class SecretMask(logging.Filter):
    """Replaces any live secret (API key, session token) in a record before it is written."""

    def __init__(self, secrets: Callable[[], Iterable[str | None]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            values = [s for s in self._secrets() if s and len(s) >= 8]
        except Exception:  # a failing mask must never lose the log line
            values = []
        if not values:
            return True
        message = record.getMessage()
        masked = message
        for value in values:
            masked = masked.replace(value, "[secret]")
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now so that it can be masked too.
            text = logging.Formatter().formatException(record.exc_info)
            for value in values:
                text = text.replace(value, "[secret]")
            record.exc_info = None
            record.exc_text = None
            masked = f"{masked}\n{text}"
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    log_dir: Path, *, debug: bool, secrets: Callable[[], Iterable[str | None]]
) -> Path:
    """Configure the root logger once, at start-up. Returns the log file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILENAME
    mask = SecretMask(secrets)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.addFilter(mask)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(mask)
    # pywebview prints to a stderr handler of its own (with --debug, the sign-in URL and its
    # token): a filter on its logger masks the record before any handler sees it.
    webview_log = logging.getLogger("pywebview")
    for earlier in [f for f in webview_log.filters if isinstance(f, SecretMask)]:
        webview_log.removeFilter(earlier)
    webview_log.addFilter(mask)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, console]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Third-party request logs can carry URLs and headers; keep them quiet unless debugging.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "openai.agents", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    return path
