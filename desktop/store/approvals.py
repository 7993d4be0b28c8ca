"""Runs paused for the user's approval, and the decisions on them.

A decision is taken once: the first answer to a card wins (a double click, a second window or a
stale card decides nothing). The run itself is claimed once, by the answer that decides its last
open call, so it resumes exactly once.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from desktop.store.connections import Database

Decision = Literal["approve", "always", "deny"]
DECISIONS: tuple[Decision, ...] = ("approve", "always", "deny")


@dataclass(frozen=True)
class WaitingCall:
    card_id: str
    call_id: str
    tool_key: str


@dataclass(frozen=True)
class ClaimedRun:
    """A run whose calls are all decided, taken by this caller alone."""

    run_id: str
    state: str
    assistant_id: str | None
    model: str | None
    # call id -> decision
    decisions: dict[str, Decision]


@dataclass(frozen=True)
class Outcome:
    """What answering a card did."""

    # "decided": this answer counted; "taken": the card was answered before; "expired": the
    # run is gone (a newer message was sent, or the chat moved on).
    status: Literal["decided", "taken", "expired"]
    decision: Decision | None = None
    decided_at: float | None = None
    # Set when this answer decided the run's last open call.
    run: ClaimedRun | None = None
    tool_key: str | None = None


class PendingApprovals:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self,
        thread_id: str,
        state: str,
        calls: Sequence[WaitingCall],
        *,
        assistant_id: str | None,
        model: str | None,
    ) -> str:
        run_id = "run_" + secrets.token_hex(8)

        def w(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO pending_runs (id, thread_id, state, assistant_id, model, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, thread_id, state, assistant_id, model, time.time()),
            )
            db.executemany(
                "INSERT INTO tool_approvals (card_id, run_id, call_id, tool_key) "
                "VALUES (?, ?, ?, ?)",
                [(c.card_id, run_id, c.call_id, c.tool_key) for c in calls],
            )

        await self._db.write(w)
        return run_id

    async def decide(self, thread_id: str, card_id: str, decision: Decision) -> Outcome:
        def w(db: sqlite3.Connection) -> Outcome:
            row = db.execute(
                "SELECT a.run_id, a.decision, a.decided_at, a.tool_key, r.status "
                "FROM tool_approvals a JOIN pending_runs r ON r.id = a.run_id "
                "WHERE a.card_id = ? AND r.thread_id = ?",
                (card_id, thread_id),
            ).fetchone()
            if row is None:
                return Outcome("expired")
            run_id, before, before_at, key, status = row
            if before is not None:
                return Outcome("taken", before, before_at, tool_key=key)
            if status != "waiting":
                return Outcome("expired", tool_key=key)
            now = time.time()
            db.execute(
                "UPDATE tool_approvals SET decision = ?, decided_at = ? "
                "WHERE card_id = ? AND decision IS NULL",
                (decision, now, card_id),
            )
            open_calls = db.execute(
                "SELECT count(*) FROM tool_approvals WHERE run_id = ? AND decision IS NULL",
                (run_id,),
            ).fetchone()[0]
            if open_calls:
                return Outcome("decided", decision, now, tool_key=key)
            decisions = {
                r[0]: r[1]
                for r in db.execute(
                    "SELECT call_id, decision FROM tool_approvals WHERE run_id = ?", (run_id,)
                )
            }
            claimed = db.execute(
                "SELECT state, assistant_id, model FROM pending_runs WHERE id = ?", (run_id,)
            ).fetchone()
            db.execute(
                "UPDATE pending_runs SET status = 'resumed', state = '' WHERE id = ?", (run_id,)
            )
            run = ClaimedRun(run_id, claimed[0], claimed[1], claimed[2], decisions)
            return Outcome("decided", decision, now, run, key)

        # One write transaction: the read, the update and the claim can't interleave with
        # another answer.
        return await self._db.write(w)

    async def expire(self, thread_id: str) -> list[str]:
        """The chat moved on: its waiting runs will never resume. Returns their open cards."""

        def w(db: sqlite3.Connection) -> list[str]:
            cards = [
                r[0]
                for r in db.execute(
                    "SELECT a.card_id FROM tool_approvals a JOIN pending_runs r ON r.id = a.run_id "
                    "WHERE r.thread_id = ? AND r.status = 'waiting' AND a.decision IS NULL",
                    (thread_id,),
                )
            ]
            db.execute(
                "UPDATE pending_runs SET status = 'expired', state = '' "
                "WHERE thread_id = ? AND status = 'waiting'",
                (thread_id,),
            )
            return cards

        def any_waiting(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT 1 FROM pending_runs WHERE thread_id = ? AND status = 'waiting' LIMIT 1",
                (thread_id,),
            ).fetchone()
            return row is not None

        # Every turn asks, and almost never is anything waiting: a read then, not a write
        # transaction with its sync on the way to the first token.
        if not await self._db.read(any_waiting):
            return []
        return await self._db.write(w)

    async def waiting(self, thread_id: str) -> int:
        def q(db: sqlite3.Connection) -> int:
            return int(
                db.execute(
                    "SELECT count(*) FROM tool_approvals a JOIN pending_runs r ON r.id = a.run_id "
                    "WHERE r.thread_id = ? AND r.status = 'waiting' AND a.decision IS NULL",
                    (thread_id,),
                ).fetchone()[0]
            )

        return await self._db.read(q)
