"""Storage: one SQLite file (threads, items, attachment records, feedback) and attachment bytes
on disk. `from desktop.store import SQLiteStore` is a stable interface.

The chatkit-based store loads on first use, so that `desktop.store.database` (opening and
migrating the file) can run at launch without chatkit's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.store.chat_store import MAX_PENDING_UPLOADS as MAX_PENDING_UPLOADS
    from desktop.store.chat_store import ORPHAN_UPLOAD_AGE_S as ORPHAN_UPLOAD_AGE_S
    from desktop.store.chat_store import SQLiteStore as SQLiteStore

__all__ = ["MAX_PENDING_UPLOADS", "ORPHAN_UPLOAD_AGE_S", "SQLiteStore"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from desktop.store import chat_store

        return getattr(chat_store, name)
    raise AttributeError(f"module 'desktop.store' has no attribute {name!r}")
