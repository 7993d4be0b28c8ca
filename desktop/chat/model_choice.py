"""Which model a turn really runs on. A model named by Settings, an assistant or a chat can stop
working without the user doing anything: it shuts down on a date, or the provider (another base
URL, a local server with other models pulled) doesn't offer it. Either way the turn goes on with
a model that works and says which, rather than failing on the first message with a 404."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from chatkit.types import ThreadMetadata

from desktop.chat.choices import ChatChoice
from desktop.chat.models import ModelCatalog, ModelList
from desktop.chat.retirements import Retirement, shut_down_notice
from desktop.settings.config import ProviderConfig
from desktop.store.connections import Database


@dataclass(frozen=True)
class ModelUse:
    model: str
    notice: str | None = None
    # Set when the wanted model shut down and `model` is its replacement: whoever named it
    # (an assistant, Settings) moves too.
    retired: Retirement | None = None


def model_for(found: ModelList, wanted: str, today: date, host: str) -> ModelUse:
    """The model to run instead of `wanted`, given the provider's list (which may be unread)."""
    gone = found.retirement(wanted, today)
    if gone is not None and gone.retired:
        if gone.replacement and found.offers(gone.replacement):
            return ModelUse(gone.replacement, shut_down_notice(gone, gone.replacement), gone)
        if found.listed and found.models[0] != wanted:
            target = found.models[0]
            return ModelUse(target, f"{wanted} shut down on {gone.when}; this chat uses {target}.")
        return ModelUse(wanted)  # nothing known to switch to: the provider's answer will say
    if found.offers(wanted):
        return ModelUse(wanted)
    offered = gone is not None and gone.replacement in found.models
    target = gone.replacement if offered and gone and gone.replacement else found.models[0]
    return ModelUse(target, f"{wanted} isn't offered by {host}; this chat uses {target}.")


class ModelChooser:
    def __init__(
        self,
        catalog: ModelCatalog,
        config: Callable[[], ProviderConfig],
        database: Database,
        move_default: Callable[[str, str], bool] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._catalog = catalog
        self._config = config
        self._database = database
        # Moves Settings' default model off one that shut down; False when it can't (the
        # environment names the model). Without it, chats still move, each on its own.
        self._move_default = move_default
        self._today = today

    async def choose(self, wanted: str) -> ModelUse:
        cfg = self._config()
        found = await self._catalog.for_turn(cfg)
        host = urlsplit(cfg.base_url).netloc or cfg.base_url
        return model_for(found, wanted, self._today(), host)

    async def for_turn(
        self, thread: ThreadMetadata, choice: ChatChoice, assistant_model: str | None
    ) -> tuple[str, str | None]:
        """The model this turn runs on, and what the chat says when it isn't the one named."""
        default = self._config().model
        wanted = choice.model or assistant_model or default
        use = await self.choose(wanted)
        if use.model == wanted:
            return wanted, None
        notice, source_moved = await self._move_everyone(use, wanted, choice, assistant_model)
        if not source_moved:
            # The chat remembers what it switched to: later turns don't switch (or say) again.
            ChatChoice(choice.assistant_id, use.model).save(thread)
        return use.model, notice or use.notice

    async def _move_everyone(
        self, use: ModelUse, wanted: str, choice: ChatChoice, assistant_model: str | None
    ) -> tuple[str | None, bool]:
        """After a shutdown, every assistant and Settings still naming the model move to its
        replacement too, and the notice says who did. Also whether what named it for this turn
        (rather than the chat alone) moved: then the chat needn't remember a model of its own."""
        if use.retired is None:
            return None, False
        also: list[str] = []
        names = await move_assistants(self._database, wanted, use.model)
        if names:
            listed = ", ".join(f"'{n}'" for n in names[:3]) + (
                " and others" if len(names) > 3 else ""
            )
            also.append(f"{'the assistant' if len(names) == 1 else 'the assistants'} {listed}")
        settings_moved = self._move_default is not None and self._move_default(wanted, use.model)
        if settings_moved:
            also.append("Settings' default model")
        source_moved = choice.model is None and (bool(names) if assistant_model else settings_moved)
        return shut_down_notice(use.retired, use.model, also), source_moved


async def move_assistants(database: Database, old: str, new: str) -> list[str]:
    """Every assistant still naming `old` now names `new`; their names, for the notice. Only the
    model column changes: the built-in assistant's unedited instructions stay the settings'."""

    def w(db: sqlite3.Connection) -> list[str]:
        names = [r[0] for r in db.execute("SELECT name FROM assistants WHERE model = ?", (old,))]
        if names:
            db.execute(
                "UPDATE assistants SET model = ?, updated_at = ? WHERE model = ?",
                (new, time.time(), old),
            )
        return names

    return await database.write(w)
