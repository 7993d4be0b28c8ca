"""Assistants: a name, instructions, a default model and the tools it may use, kept in SQLite.

One built-in assistant always exists (it can be edited, not deleted). Until its instructions are
edited here they are the settings' system prompt (stored as NULL), so older set-ups and scripts
that set `system_prompt` keep working.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from desktop.errors import InvalidRequestError, NotFound
from desktop.store.connections import Database
from desktop.tool_keys import is_mcp_selection

DEFAULT_ID = "default"
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
MAX_ASSISTANTS = 200


@dataclass(frozen=True)
class Assistant:
    id: str
    name: str
    instructions: str
    model: str | None
    tools: tuple[str, ...]
    builtin: bool
    updated_at: float

    def view(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "instructions": self.instructions,
            "model": self.model,
            "tools": list(self.tools),
            "builtin": self.builtin,
        }


class AssistantDraft(BaseModel):
    """What the user submits for an assistant. Tool names are checked against the registry by
    `Assistants`, which is given the names it may accept."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80)
    instructions: str = Field(default="", max_length=20_000)
    model: str | None = Field(default=None, max_length=200)
    tools: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("must be one line of text")
        return value


_COLUMNS = "id, name, instructions, model, tools, builtin, updated_at"
Row = tuple[str, str, str | None, str | None, str, int, float]


class Assistants:
    def __init__(
        self,
        database: Database,
        known_tools: Collection[str],
        settings_prompt: Callable[[], str] = lambda: DEFAULT_INSTRUCTIONS,
    ) -> None:
        self._db = database
        self._known_tools = frozenset(known_tools)
        self._settings_prompt = settings_prompt

    def _known(self, tool: str) -> bool:
        return tool in self._known_tools or is_mcp_selection(tool)

    def _from_row(self, row: Row) -> Assistant:
        tools = tuple(t for t in json.loads(row[4] or "[]") if self._known(t))
        return Assistant(
            id=row[0],
            name=row[1],
            instructions=self._settings_prompt() if row[2] is None else row[2],
            model=row[3],
            tools=tools,
            builtin=bool(row[5]),
            updated_at=float(row[6]),
        )

    def _check_tools(self, draft: AssistantDraft) -> list[str]:
        unknown = [t for t in draft.tools if not self._known(t)]
        if unknown:
            raise InvalidRequestError(
                f"Unknown tool: {unknown[0][:80]}.", fields={"tools": "Unknown tool."}
            )
        return list(dict.fromkeys(draft.tools))

    async def list(self) -> list[Assistant]:
        def q(db: sqlite3.Connection) -> list[Row]:
            return db.execute(
                f"SELECT {_COLUMNS} FROM assistants ORDER BY builtin DESC, name COLLATE NOCASE, id"  # noqa: S608
            ).fetchall()

        return [self._from_row(r) for r in await self._db.read(q)]

    async def get(self, assistant_id: str) -> Assistant | None:
        def q(db: sqlite3.Connection) -> Row | None:
            row: Row | None = db.execute(
                f"SELECT {_COLUMNS} FROM assistants WHERE id = ?",  # noqa: S608
                (assistant_id,),
            ).fetchone()
            return row

        row = await self._db.read(q)
        return self._from_row(row) if row else None

    async def resolve(self, assistant_id: str | None) -> Assistant:
        """The assistant a chat asked for, or the built-in one if it was deleted since."""
        found = await self.get(assistant_id) if assistant_id else None
        if found is None:
            found = await self.get(DEFAULT_ID)
        if found is None:  # the row is created by a migration; only a hand-edited file lacks it
            return Assistant(DEFAULT_ID, "Assistant", self._settings_prompt(), None, (), True, 0.0)
        return found

    async def create(self, draft: AssistantDraft) -> Assistant:
        tools = self._check_tools(draft)
        new_id = f"asst_{secrets.token_hex(6)}"
        now = time.time()

        def w(db: sqlite3.Connection) -> None:
            (count,) = db.execute("SELECT count(*) FROM assistants").fetchone()
            if count >= MAX_ASSISTANTS:
                raise InvalidRequestError(f"There are already {MAX_ASSISTANTS} assistants.")
            db.execute(
                "INSERT INTO assistants (id, name, instructions, model, tools, builtin, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (new_id, draft.name, draft.instructions, draft.model, json.dumps(tools), now, now),
            )

        await self._db.write(w)
        created = await self.get(new_id)
        assert created is not None
        return created

    async def update(self, assistant_id: str, draft: AssistantDraft) -> Assistant:
        tools = self._check_tools(draft)

        def w(db: sqlite3.Connection) -> int:
            return db.execute(
                "UPDATE assistants SET name = ?, instructions = ?, model = ?, tools = ?, "
                "updated_at = ? WHERE id = ?",
                (
                    draft.name,
                    draft.instructions,
                    draft.model,
                    json.dumps(tools),
                    time.time(),
                    assistant_id,
                ),
            ).rowcount

        if not await self._db.write(w):
            raise NotFound("That assistant no longer exists.")
        updated = await self.get(assistant_id)
        assert updated is not None
        return updated

    async def duplicate(self, assistant_id: str) -> Assistant:
        source = await self.get(assistant_id)
        if source is None:
            raise NotFound("That assistant no longer exists.")
        return await self.create(
            AssistantDraft(
                name=f"{source.name[:73]} (copy)",
                instructions=source.instructions,
                model=source.model,
                tools=list(source.tools),
            )
        )

    async def delete(self, assistant_id: str) -> None:
        """Chats that used it go on with the built-in assistant."""

        def w(db: sqlite3.Connection) -> int:
            row = db.execute(
                "SELECT builtin FROM assistants WHERE id = ?", (assistant_id,)
            ).fetchone()
            if row is None:
                return 0
            if row[0]:
                raise InvalidRequestError("The built-in assistant can be edited but not deleted.")
            return db.execute("DELETE FROM assistants WHERE id = ?", (assistant_id,)).rowcount

        if not await self._db.write(w):
            raise NotFound("That assistant no longer exists.")
