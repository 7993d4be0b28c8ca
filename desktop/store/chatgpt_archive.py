"""Reading a ChatGPT data export: `conversations.json` one conversation at a time (never the
whole file), from the file itself or from inside the export's zip, with the images the zip holds
(read under limits by chatgpt_images.py) and how far reading has got."""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from desktop.errors import StoreError
from desktop.store.json_stream import Truncated, iter_array

# What a damaged or unusual zip raises while it is read: a bad header, a corrupt deflate stream
# (zlib.error), an entry cut short, a compression method or an encryption zipfile can't read.
UNREADABLE_ZIP = (
    OSError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)


class ChatGptArchive:
    """conversations.json, from a file or from inside the export's zip (with its images)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        # The bytes under the text stream, and their total: how far reading has got.
        self._raw: IO[bytes] | None = None
        self._size = 1
        self._bases: list[str] | None = None
        self._infos: list[zipfile.ZipInfo] = []
        try:
            if zipfile.is_zipfile(path):
                self.zip = zipfile.ZipFile(path)
        except OSError as exc:
            raise StoreError(f"Can't read {path}: {exc.strerror or exc}.") from exc
        except UNREADABLE_ZIP as exc:
            # A zip's signature with a damaged directory behind it.
            raise StoreError(f"Can't read {path.name}: it is a damaged zip ({exc}).") from exc

    def conversations(self) -> Iterator[Any]:
        """The conversations one at a time (the file is read as it goes, never whole)."""
        try:
            if self.zip is not None:
                name = next(
                    (
                        n
                        for n in self.zip.namelist()
                        if n.rsplit("/", 1)[-1] == "conversations.json"
                    ),
                    None,
                )
                if name is None:
                    raise StoreError(f"{self.path.name} has no conversations.json.")
                self._size = max(1, self.zip.getinfo(name).file_size)
                self._raw = self.zip.open(name)
            else:
                self._size = max(1, self.path.stat().st_size)
                self._raw = open(self.path, "rb")  # noqa: SIM115 (closed below)
            stream: TextIO = io.TextIOWrapper(self._raw, encoding="utf-8")
        except FileNotFoundError as exc:
            raise StoreError(f"There is no file at {self.path}.") from exc
        except (OSError, zipfile.BadZipFile) as exc:
            raise StoreError(f"Can't read {self.path.name}: {exc}.") from exc
        try:
            yield from iter_array(stream)
        except Truncated as exc:
            raise StoreError(f"{self.path.name} is cut short: {exc}.") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(
                f"{self.path.name} is not a valid ChatGPT export; it may be cut short ({exc})."
            ) from exc
        except UNREADABLE_ZIP as exc:
            raise StoreError(f"Can't read {self.path.name}: {exc}.") from exc
        finally:
            stream.close()

    def position(self) -> float:
        raw = self._raw
        if raw is None or raw.closed:
            return 1.0 if raw is not None else 0.0
        with contextlib.suppress(OSError, ValueError):
            return min(1.0, raw.tell() / self._size)
        return 0.0

    def entry(self, pointer: str) -> zipfile.ZipInfo | None:
        """The zip entry an `asset_pointer` ("file-service://file-abc") names: the first whose
        file name starts with its last part. Nothing is read; see chatgpt_images.py."""
        key = pointer.rsplit("/", 1)[-1]
        if self.zip is None or not key:
            return None
        if self._bases is None:
            # Sorted once, so each lookup is a binary search, not a scan of every entry.
            found = sorted(
                (info.filename.rsplit("/", 1)[-1], info)
                for info in self.zip.infolist()
                if not info.is_dir()
            )
            self._bases = [base for base, _ in found]
            self._infos = [info for _, info in found]
        at = bisect.bisect_left(self._bases, key)
        if at < len(self._bases) and self._bases[at].startswith(key):
            return self._infos[at]
        return None

    def open_entry(self, info: zipfile.ZipInfo) -> IO[bytes]:
        if self.zip is None:
            raise FileNotFoundError(info.filename)
        return self.zip.open(info)

    def size(self) -> int:
        """The archive's size on disk."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def looks_like_chatgpt(path: Path) -> bool:
    """A zip, or JSON that starts as a list (this app's export is an object)."""
    try:
        if zipfile.is_zipfile(path):
            return True
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"[")
