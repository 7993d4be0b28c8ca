"""Titles for new chats: a small agent run beside the reply, sent in the same stream when it is
ready in time, saved on its own when it is not."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agents import Runner
from chatkit.store import NotFoundError, Store
from chatkit.types import ThreadMetadata, UserMessageItem

from desktop.chat.agent import title_agent
from desktop.chat.history import user_text
from desktop.chat.provider import ProviderClients, translate
from desktop.context import RequestContext
from desktop.settings.config import ProviderConfig

log = logging.getLogger(__name__)

TITLE_INSTRUCTIONS = (
    "Write a short title (at most 6 words) for a conversation that starts with the user's "
    "message below. Reply with the title only: no quotes, no trailing punctuation."
)
# How long the end of a reply waits for a title still being generated, so that it can be sent
# in the same stream. The reply text itself never waits.
TITLE_GRACE_S = 1.0


# Bidirectional-text controls can make a title display as something else (U+202E reverses
# what follows); control characters have no place in a one-line title.
_TITLE_JUNK = dict.fromkeys(
    [
        *range(0x00, 0x20),
        0x7F,
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ],
    " ",
)


def clean_title(title: str, limit: int = 200) -> str:
    return " ".join(title.translate(_TITLE_JUNK).split())[:limit]


def fallback_title(text: str, words: int = 6, limit: int = 60) -> str:
    first = " ".join(clean_title(text, 10_000).split()[:words])
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first or "New chat"


@dataclass(frozen=True)
class PendingTitle:
    """A title being generated, and the first words of the message to use if it can't be."""

    task: asyncio.Task[str]
    fallback: str


class Titles:
    def __init__(self, store: Store[RequestContext], clients: ProviderClients) -> None:
        self._store = store
        self._clients = clients
        self._background: set[asyncio.Task[None]] = set()

    def start(
        self, thread: ThreadMetadata, message: UserMessageItem | None, cfg: ProviderConfig
    ) -> PendingTitle | None:
        if thread.title is not None or message is None:
            return None
        text = user_text(message)
        if not cfg.generate_titles or not text:
            return None
        return PendingTitle(asyncio.create_task(self._generate(text, cfg)), fallback_title(text))

    async def _generate(self, text: str, cfg: ProviderConfig) -> str:
        try:
            agent = title_agent(TITLE_INSTRUCTIONS, cfg.model)
            result = await Runner.run(
                agent, text[:2000], run_config=self._clients.run_config(cfg), max_turns=1
            )
            title = clean_title(str(result.final_output)).strip("\"'“”. ")
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            reason = translate(exc, cfg, streamed=False)
            log.info("title generation failed: %s", reason.code if reason else type(exc).__name__)
            title = ""
        return title[:80] if title else fallback_title(text)

    async def finish(
        self, thread: ThreadMetadata, pending: PendingTitle, context: RequestContext
    ) -> None:
        done, _ = await asyncio.wait({pending.task}, timeout=TITLE_GRACE_S)
        if done:
            # Setting it here lets chatkit save it and send thread.updated in this stream.
            thread.title = pending.task.result()
            return
        self.keep(thread.id, pending, context)

    def keep(self, thread_id: str, pending: PendingTitle, context: RequestContext) -> None:
        """Let a title still being generated land in the store; clients see it on their next list."""
        saver = asyncio.create_task(self._store_later(thread_id, pending, context))
        self._background.add(saver)
        saver.add_done_callback(self._background.discard)

    async def _store_later(
        self, thread_id: str, pending: PendingTitle, context: RequestContext
    ) -> None:
        cancelled = False
        try:
            title = await pending.task
        except asyncio.CancelledError:
            # The app is quitting before the model answered: the first words will do.
            cancelled = True
            title = pending.fallback
        try:
            thread = await self._store.load_thread(thread_id, context)
            if thread.title is None:
                thread.title = title
                await self._store.save_thread(thread, context)
        except NotFoundError:
            pass
        except Exception:
            log.exception("saving a late title failed")
        if cancelled:
            raise asyncio.CancelledError

    async def aclose(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
