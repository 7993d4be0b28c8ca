"""Where each page of the history ended, so that the next page is read against the same snapshot.

Shared by the chatkit store's threads.list and the launch's first stage, which serves the
history's first page before the store is imported: a "Load more" after the hand-over continues
where that page left off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

# How many recent cursors are remembered with their snapshot.
_CURSOR_MEMORY = 1024


class ThreadCursors:
    def __init__(self) -> None:
        # (direction, cursor id) -> (snapshot seq, position).
        self._cursors: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, direction: str, after: str) -> tuple[int, int] | None:
        with self._lock:
            return self._cursors.get((direction, after))

    def remember(self, direction: str, last: str, snapshot: int, position: int) -> None:
        with self._lock:
            self._cursors[(direction, last)] = (snapshot, position)
            self._cursors.move_to_end((direction, last))
            while len(self._cursors) > _CURSOR_MEMORY:
                self._cursors.popitem(last=False)
