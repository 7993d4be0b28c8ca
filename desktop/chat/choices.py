"""Which assistant and model a chat uses. The composer's picks arrive as a message's
`inference_options` (the model, and the assistant as a `tool_choice` of `assistant:<id>`) and are
remembered in the thread's server-only metadata, so turns without a pick (retries, widget actions,
client tool outputs, later messages) keep them."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.types import InferenceOptions, ThreadMetadata

ASSISTANT_TOOL_PREFIX = "assistant:"
_ASSISTANT_KEY = "assistant_id"
_MODEL_KEY = "model"


@dataclass(frozen=True)
class ChatChoice:
    assistant_id: str | None = None
    model: str | None = None

    @classmethod
    def of(cls, thread: ThreadMetadata) -> ChatChoice:
        meta = thread.metadata or {}
        assistant, model = meta.get(_ASSISTANT_KEY), meta.get(_MODEL_KEY)
        return cls(
            assistant_id=assistant if isinstance(assistant, str) else None,
            model=model if isinstance(model, str) else None,
        )

    def picked(self, options: InferenceOptions | None) -> ChatChoice:
        """This choice with a message's picks applied."""
        if options is None:
            return self
        assistant = self.assistant_id
        tool = options.tool_choice.id if options.tool_choice else ""
        if tool.startswith(ASSISTANT_TOOL_PREFIX):
            assistant = tool.removeprefix(ASSISTANT_TOOL_PREFIX) or None
        return ChatChoice(assistant_id=assistant, model=options.model or self.model)

    def save(self, thread: ThreadMetadata) -> None:
        meta = dict(thread.metadata or {})
        for key, value in ((_ASSISTANT_KEY, self.assistant_id), (_MODEL_KEY, self.model)):
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        thread.metadata = meta

    def view(self) -> dict[str, str | None]:
        return {"assistant_id": self.assistant_id, "model": self.model}
