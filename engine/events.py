"""The typed events one conversation turn emits. Front ends only render these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, dataclass_transform


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Event:
    """Base class of every turn event. Each subclass is a frozen dataclass by being one:
    events are values, made once and read by every front end."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)


class TurnStarted(Event):
    session_id: str
    user_message_id: int
    text: str


class TextDelta(Event):
    text: str
    message_id: int
    """The assistant message the text belongs to (one per model round)."""


class ThinkingDelta(Event):
    """The model's thinking as it streams (shown collapsed; never part of the reply)."""

    text: str
    message_id: int


class ToolEvent(Event):
    """A tool call the model made: its start and its result."""

    call_id: str
    name: str
    input: dict[str, Any] | None

    @property
    def command(self) -> str:
        return str((self.input or {}).get("command", "?"))

    @property
    def path(self) -> str:
        return str((self.input or {}).get("path", ""))


class ToolCallStarted(ToolEvent):
    message_id: int


class ToolResult(ToolEvent):
    text: str
    is_error: bool
    edit_id: int | None = None
    """The edit the call made, when it wrote the file."""

    @property
    def summary(self) -> str:
        """The result's first line, for a one-line row."""
        return self.text.strip().splitlines()[0] if self.text.strip() else ""


class FileChanged(Event):
    path: str
    """The file, relative to the workspace root."""
    diff: str
    """Unified diff of the session baseline against the file now."""
    key_paths: list[str] = field(default_factory=list)
    edit_id: int | None = None
    external: bool = False
    """True when another program changed the file."""


class Usage(Event):
    """What the model round just ended cost, and the session's totals so far."""

    input_tokens: int
    output_tokens: int
    cost_usd: float
    session_input_tokens: int
    """The session's totals, this round included (as the store now holds them)."""
    session_output_tokens: int
    session_cost_usd: float
    cache_read_tokens: int = 0
    """Of ``input_tokens``, those read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Of ``input_tokens``, those written to it."""
    context_tokens: int = 0
    """The last request's prompt size: how full the model's context is."""
    context_window: int | None = None
    """The model's context window, when known."""

    def as_dict(self) -> dict[str, Any]:
        """The ``usage`` object of a turn's report, dollars to six places."""
        data = asdict(self)
        for cost in ("cost_usd", "session_cost_usd"):
            data[cost] = round(data[cost], 6)
        return data


class Retrying(Event):
    """The provider failed in a way worth another try; the turn waits, then retries."""

    attempt: int
    """The attempt about to start (2 for the first retry)."""
    wait: float
    reason: str


class Notice(Event):
    """Something the user should know that is not an error (a tool-round limit, say)."""

    text: str


class TurnFailed(Event):
    """The turn ended on an error; what the reply had so far is kept."""

    message: str
    """One plain sentence."""


class TurnCancelled(Event):
    """The person stopped the turn (Esc, Ctrl+C, a quit); the partial reply is kept."""

    partial_text: str


class TurnDone(Event):
    """The turn ended normally (or cut by a limit, as ``status`` says)."""

    text: str
    """All assistant text of the turn."""
    assistant_message_ids: list[int] = field(default_factory=list)
