"""Pausing a run for the user's approval, answering a card, and expiring cards the chat moved
past. The run's state is stored in SQLite, so a card answered after a restart resumes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from agents import RunResultStreaming, RunState
from chatkit.errors import CustomStreamError
from chatkit.store import NotFoundError
from chatkit.types import (
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.approval_cards import (
    arguments_text,
    card_facts,
    decided_card,
    expired_card,
    pending_card,
    summary,
)
from desktop.chat.approvals import allow_in_chat
from desktop.context import RequestContext
from desktop.store.approvals import DECISIONS, ClaimedRun, Decision, WaitingCall
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)
DECLINED = (
    "The user declined to run this tool call, so it did not run. Don't try it again unless "
    "the user asks; carry on without it."
)
EXPIRED = "Not run: a newer message was sent before this was answered"
_DECIDED_TEXT = {"approve": "approved", "always": "always allowed in this chat", "deny": "denied"}


def _labels(ac: DesktopAgentContext, tool_name: str) -> tuple[str, str, str]:
    return ac.tool_labels.get(tool_name, (tool_name, tool_name, "Tool"))


class ApprovalFlow:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def pause(
        self,
        thread: ThreadMetadata,
        result: RunResultStreaming,
        ac: DesktopAgentContext,
        *,
        assistant_id: str,
        model: str,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Store the paused run, then show one card per call waiting for the user."""
        state = result.to_state().to_string(context_serializer=lambda _: {})
        cards: list[WidgetItem] = []
        calls: list[WaitingCall] = []
        for item in result.interruptions:
            call_id = str(
                getattr(item.raw_item, "call_id", None) or getattr(item.raw_item, "id", "")
            )
            key, label, origin = _labels(ac, item.tool_name or "")
            arguments = str(item.arguments or "")
            card_id = self._store.generate_item_id("message", thread, context)
            cards.append(
                WidgetItem(
                    id=card_id,
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    widget=pending_card(label, origin, arguments),
                    copy_text=summary(label, origin, "waiting for the user's answer")
                    + f" Arguments: {arguments_text(arguments)}",
                )
            )
            calls.append(WaitingCall(card_id=card_id, call_id=call_id, tool_key=key))
        # Stored before the cards are shown, so that no click can arrive first.
        await self._store.approvals.save(
            thread.id, state, calls, assistant_id=assistant_id, model=model
        )
        for card in cards:
            yield ThreadItemDoneEvent(item=card)

    async def expire(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """A new message (or a retry) makes waiting cards stale: they say so, and never run."""
        for card_id in await self._store.approvals.expire(thread.id):
            try:
                item = await self._store.load_item(thread.id, card_id, context)
            except NotFoundError:
                continue  # removed by a retry
            if isinstance(item, WidgetItem):
                yield ThreadItemReplacedEvent(item=_redrawn(item, None, None, EXPIRED))

    async def answer(
        self,
        thread: ThreadMetadata,
        payload: Any,
        sender: WidgetItem | None,
    ) -> tuple[list[ThreadStreamEvent], ClaimedRun | None]:
        """Record the answer to one card. Returns the events that redraw it, and the run if
        this answer was the last one it waited for (taken by this caller alone)."""
        decision = payload.get("decision") if isinstance(payload, dict) else None
        if sender is None or decision not in DECISIONS:
            raise CustomStreamError("That answer to the approval card wasn't understood.")
        chosen: Decision = decision
        outcome = await self._store.approvals.decide(thread.id, sender.id, chosen)
        if outcome.status == "expired":
            return [ThreadItemReplacedEvent(item=_redrawn(sender, None, None, EXPIRED))], None
        shown = outcome.decision or chosen
        redraw = ThreadItemReplacedEvent(item=_redrawn(sender, shown, outcome.decided_at, None))
        if outcome.status == "taken":
            return [redraw], None
        if chosen == "always" and outcome.tool_key:
            allow_in_chat(thread, outcome.tool_key)
        return [redraw], outcome.run

    @staticmethod
    def apply(state: RunState[Any, Any], run: ClaimedRun) -> None:
        for item in state.get_interruptions():
            call_id = str(
                getattr(item.raw_item, "call_id", None) or getattr(item.raw_item, "id", "")
            )
            if run.decisions.get(call_id) in ("approve", "always"):
                state.approve(item)
            else:
                state.reject(item, rejection_message=DECLINED)


def _redrawn(
    item: WidgetItem, decision: str | None, at: float | None, why: str | None
) -> WidgetItem:
    facts = card_facts(item.widget)
    if facts is None:
        return item
    label, origin, arguments = facts
    if why is not None:
        widget = expired_card(label, origin, arguments, why)
        text = summary(label, origin, why.lower())
    else:
        widget = decided_card(label, origin, arguments, decision or "", at or 0.0)
        text = summary(label, origin, f"the user {_DECIDED_TEXT.get(decision or '', 'answered')}")
    return item.model_copy(update={"widget": widget, "copy_text": text})
