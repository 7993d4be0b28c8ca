"""Full-text search over every chat: message text, attachment names and titles.

The index (FTS5 tables `item_search` and `title_search`) is created by migration
m003_search_index and kept current by its triggers, so every way an item is saved, imported or
deleted updates it in the same transaction.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from desktop.store.connections import Database

MAX_RESULTS = 50
_MAX_TERMS = 12
# How many matching messages one search walks at most (a word in every message of a huge
# history still answers quickly; the chats it returns are then the most recent ones).
_MAX_SCANNED = 20_000
# A last word shorter than this is matched whole, not as a prefix: one or two letters would
# expand to most of the vocabulary.
_MIN_PREFIX = 3
# Markers FTS5's snippet() puts around each match; they can't occur in stored text (JSON
# escapes control characters, and the triggers read the decoded text).
_OPEN, _CLOSE = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)


def match_query(text: str, *, prefix: bool = True) -> str | None:
    """The user's words as an FTS5 query: every word must appear in one message, the last may be
    a prefix (search as you type). Quoting each word keeps FTS5's own syntax (AND, NEAR, *)
    inert."""
    words = _WORD.findall(text)[:_MAX_TERMS]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    if prefix and len(words[-1]) >= _MIN_PREFIX:
        quoted[-1] += "*"
    return " ".join(quoted)


@dataclass(frozen=True)
class SearchHit:
    thread_id: str
    title: str | None
    # The matching message, or None when only the title matched.
    item_id: str | None
    role: str | None
    created_at: str
    # The excerpt as segments: (text, is_match). The page marks the matches without HTML.
    excerpt: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(part for part, _ in self.excerpt)

    def view(self) -> dict[str, object]:
        return {
            "thread_id": self.thread_id,
            "title": self.title,
            "item_id": self.item_id,
            "role": self.role,
            "created_at": self.created_at,
            "excerpt": [{"text": t, "match": m} for t, m in self.excerpt],
        }


def _segments(snippet: str) -> tuple[tuple[str, bool], ...]:
    parts: list[tuple[str, bool]] = []
    for chunk in snippet.split(_OPEN):
        if _CLOSE in chunk:
            matched, rest = chunk.split(_CLOSE, 1)
            parts.append((matched, True))
            if rest:
                parts.append((rest, False))
        elif chunk:
            parts.append((chunk, False))
    return tuple(parts)


class ChatSearch:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def search(self, text: str, limit: int = 20, *, prefix: bool = True) -> list[SearchHit]:
        """Chats that match, most recently active first, each with its newest matching message.
        `prefix`: the last word may be the start of a word (typing in the search box)."""
        query = match_query(text, prefix=prefix)
        if query is None:
            return []
        limit = max(1, min(limit, MAX_RESULTS))
        return await self._db.read(lambda db: _search(db, query, limit))


def _search(db: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    # Newest matching messages first: FTS5 walks rowids backwards without sorting, and rows come
    # one at a time, so the walk stops as soon as `limit` chats are found. One statement only:
    # each MATCH pays the query's set-up again (for a prefix, expanding it over the vocabulary).
    best: dict[str, tuple[str, str, str, str]] = {}  # thread -> (item id, type, created, snippet)
    walk = db.execute(
        """
        SELECT i.thread_id, i.id, i.type, i.created_at, snippet(item_search, 0, ?, ?, '…', 24)
        FROM item_search JOIN items AS i ON i.rowid = item_search.rowid
        WHERE item_search MATCH ? ORDER BY item_search.rowid DESC
        """,
        (_OPEN, _CLOSE, query),
    )
    for scanned, (thread_id, item_id, kind, created, snippet) in enumerate(walk, 1):
        best.setdefault(thread_id, (item_id, kind, created, snippet))
        if len(best) >= limit or scanned >= _MAX_SCANNED:
            break
    walk.close()
    titled = db.execute(
        """
        SELECT t.id, highlight(title_search, 0, ?, ?)
        FROM title_search JOIN threads AS t ON t.rowid = title_search.rowid
        WHERE title_search MATCH ? ORDER BY title_search.rowid DESC LIMIT ?
        """,
        (_OPEN, _CLOSE, query, limit),
    ).fetchall()
    title_marks = dict(titled)
    ids = list(dict.fromkeys([*best, *(r[0] for r in titled)]))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    threads = db.execute(
        f"SELECT id, active_seq, created_at, json_extract(data, '$.title') FROM threads "  # noqa: S608
        f"WHERE id IN ({marks})",
        ids,
    ).fetchall()
    threads.sort(key=lambda r: r[1], reverse=True)
    hits = []
    for thread_id, _, created, title in threads[:limit]:
        if thread_id in best:
            item_id, kind, item_created, snippet = best[thread_id]
            hits.append(
                SearchHit(
                    thread_id=thread_id,
                    title=title,
                    item_id=item_id,
                    role="user" if kind == "user_message" else "assistant",
                    created_at=item_created,
                    excerpt=_segments(" ".join(snippet.split())),
                )
            )
        else:
            hits.append(
                SearchHit(
                    thread_id=thread_id,
                    title=title,
                    item_id=None,
                    role=None,
                    created_at=created,
                    excerpt=_segments(title_marks.get(thread_id, "")),
                )
            )
    return hits
