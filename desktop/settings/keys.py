"""Where the user's saved API key lives (desktop.settings.service decides which key, if any, a
host gets: OPENAI_API_KEY or this one).

The key store is the OS keychain (via `keyring`) when a real backend is available; otherwise a
file `<data dir>/api_key` created with mode 0600, so no other user can read it. The key is never
written to the settings file, the database or a log.

A saved key is stored with the origin (scheme, host and port) it was saved for, and is sent only
there: changing the base URL must not hand the key to another host. The binding lives with the
key, not in settings.json, so that a settings file from a backup can't rebind it. A key saved by
an older version has no origin yet; the settings service binds it to the base URL the user saved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from desktop.fileio import atomic_write

log = logging.getLogger(__name__)

KEYRING_SERVICE = "chatkit-desktop"
KeySource = Literal["env", "keychain", "file", "none"]


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL, with the default port written out, so that
    `https://api.openai.com/v1` and `https://API.openai.com:443/other` are the same origin."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = 0
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def display_host(origin: str) -> str:
    """An origin as Settings names it: `host` or `host:port` when the port isn't the default."""
    parts = urlsplit(origin)
    netloc = parts.netloc
    default = _DEFAULT_PORTS.get(parts.scheme)
    return netloc.removesuffix(f":{default}") if default else netloc


def web_origin(origin: str) -> str:
    """An origin as a browser's `URL.origin` spells it (no default port), for the page."""
    return f"{urlsplit(origin).scheme}://{display_host(origin)}"


def _encode(key: str, origin: str | None) -> str:
    return json.dumps({"key": key, "origin": origin})


def _decode(stored: str | None) -> tuple[str | None, str | None]:
    """(key, origin) from what the store holds; a bare key (older versions) has no origin."""
    if not stored:
        return None, None
    if stored.startswith("{"):
        try:
            record = json.loads(stored)
        except ValueError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("key"), str):
            origin = record.get("origin")
            return record["key"] or None, origin if isinstance(origin, str) else None
    return stored, None


class KeyFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> str | None:
        try:
            value = self.path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, PermissionError, UnicodeDecodeError):
            return None
        return value or None

    def set(self, key: str) -> None:
        atomic_write(self.path, key.strip())

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def keychain_available() -> bool:
    """Whether keyring has a real backend here (not the 'fail' or an empty chainer one)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return False
    try:
        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return True


class KeyStore:
    """The saved key: in the keychain when there is one, else in the 0600 file. Cached in memory."""

    def __init__(self, data_dir: Path, *, use_keychain: bool | None = None) -> None:
        self.file = KeyFile(data_dir / "api_key")
        self.account = str(data_dir)
        self._use_keychain = use_keychain
        self._lock = threading.Lock()
        self._cached: str | None = None
        self._origin: str | None = None
        self._loaded = False

    @property
    def use_keychain(self) -> bool:
        # Detected on first use, not at launch: probing keyring's backends takes ~0.2 s.
        if self._use_keychain is None:
            self._use_keychain = keychain_available()
        return self._use_keychain

    @property
    def backend(self) -> Literal["keychain", "file"]:
        return "keychain" if self.use_keychain else "file"

    def get(self) -> str | None:
        return self.record()[0]

    def record(self) -> tuple[str | None, str | None]:
        """The saved key and the origin it is bound to (None for a key saved before binding)."""
        with self._lock:
            return self._load()

    def _load(self) -> tuple[str | None, str | None]:
        """`record`, for callers that hold the lock already."""
        if not self._loaded:
            self._cached, self._origin = _decode(self._read())
            self._loaded = True
        return self._cached, self._origin

    def peek(self) -> str | None:
        """The key if it has been read already; never touches the keychain."""
        return self._cached

    def _read(self) -> str | None:
        if self.use_keychain:
            try:
                import keyring

                value = keyring.get_password(KEYRING_SERVICE, self.account)
            except Exception as exc:
                log.warning(
                    "reading the keychain failed (%s); using the key file", type(exc).__name__
                )
            else:
                if value:
                    return value
        return self.file.get()

    def set(self, key: str, origin: str) -> None:
        """Save `key` for `origin` (a URL or an origin). A key that can't be written is not
        kept: saving it fails, and the user sees that."""
        key = key.strip()
        bound = origin_of(origin)
        with self._lock:
            self._write(_encode(key, bound))
            self._cached, self._origin, self._loaded = key, bound, True

    def bind(self, origin: str) -> None:
        """Send the saved key to `origin` (a URL or an origin) from now on, and nowhere else.

        The binding holds in memory before it is written: if writing fails (a keychain that
        won't), it still holds for this run, rather than leaving the key unbound and free to be
        bound to whatever base URL is in force next."""
        bound = origin_of(origin)
        with self._lock:
            key, _ = self._load()
            if key is None:
                return
            self._origin = bound
            self._write(_encode(key, bound))

    def _write(self, stored: str) -> None:
        if self.use_keychain:
            import keyring

            keyring.set_password(KEYRING_SERVICE, self.account, stored)
            self.file.clear()  # never leave a second, plainer copy behind
        else:
            self.file.set(stored)

    def clear(self) -> None:
        with self._lock:
            if self.use_keychain:
                import keyring
                from keyring.errors import PasswordDeleteError

                with contextlib.suppress(PasswordDeleteError):
                    keyring.delete_password(KEYRING_SERVICE, self.account)
            self.file.clear()
            self._cached, self._origin, self._loaded = None, None, True
