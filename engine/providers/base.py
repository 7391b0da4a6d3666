"""The provider protocol: one streaming call to a model, in a provider-neutral shape.

History messages passed to ``stream`` are dicts in the engine's neutral form:

- ``{"role": "user", "text": str}``
- ``{"role": "assistant", "text": str, "tool_calls": [{"id", "name", "input"}],
  "thinking": [thinking parts]}`` (thinking parts as ``ThinkingBlock.as_part`` makes them)
- ``{"role": "tool", "results": [{"tool_use_id", "name", "content", "is_error"}]}``

Each provider converts them to its own wire format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.errors import ProviderError

#: The most tokens one reply may have (thinking shares it with the text); sent as
#: Claude's ``max_tokens`` and Ollama's ``num_predict``.
MAX_REPLY_TOKENS = 16_384
#: The most characters of text and thinking one reply is read for, whatever the server
#: says: several times what ``MAX_REPLY_TOKENS`` makes, so only a model that runs on and
#: on, or a server that never ends its stream, meets it.
MAX_REPLY_CHARS = 400_000
#: The deepest a tool call's arguments may nest lists and objects (the editor's are flat).
MAX_ARGUMENT_NESTING = 20
#: The most characters a tool call's arguments are read for: room for a create, or a
#: replacement, of a whole score at its size limit.
MAX_ARGUMENT_CHARS = 16_000_000


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class ThinkingChunk:
    """Streamed thinking text, shown collapsed while it arrives."""

    text: str


@dataclass(frozen=True)
class ThinkingBlock:
    """One whole thinking block, kept exactly as the model sent it.

    Claude requires its thinking blocks back, unchanged (with their signature), in a
    tool loop; a redacted block carries only ``data``.
    """

    thinking: str = ""
    signature: str | None = None
    redacted_data: str | None = None

    def as_part(self) -> dict[str, Any]:
        if self.redacted_data is not None:
            return {"type": "redacted_thinking", "data": self.redacted_data}
        part: dict[str, Any] = {"type": "thinking", "thinking": self.thinking}
        if self.signature is not None:
            part["signature"] = self.signature
        return part


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any] | None
    """``None`` when the model sent arguments that are not a JSON object."""
    error: str | None = None
    """Why ``input`` could not be read, to send back to the model."""


def read_tool_call(
    call_id: str, name: str, arguments: Any, what: str = "the arguments"
) -> ToolCall:
    """A tool call from what a provider received: a dict, or JSON text of one (empty text
    is ``{}``). Anything else becomes a call whose ``error`` goes back to the model, in the
    same words whichever provider it came from."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments.strip() or "{}")
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            verb = "are" if what.endswith("s") else "is"
            return ToolCall(call_id, name, None, f"{what} {verb} not valid JSON ({why})")
    if not isinstance(arguments, dict):
        return ToolCall(call_id, name, None, f"{what} must be a JSON object")
    if _deeper_than(arguments, MAX_ARGUMENT_NESTING):
        # The editor's arguments are flat; a deep value would be stored, and read back
        # at every later turn, with a parser that a deep enough one stops.
        verb = "are" if what.endswith("s") else "is"
        return ToolCall(call_id, name, None, f"{what} {verb} nested too deeply")
    return ToolCall(call_id, name, dict(arguments))


def _deeper_than(value: Any, levels: int) -> bool:
    """True when ``value`` nests lists and objects more than ``levels`` deep."""
    level = [value]
    for _ in range(levels + 1):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]  # fmt: skip
        if not level:
            return False
    return True


@dataclass(frozen=True)
class UsageReport:
    input_tokens: int = 0
    """Every prompt token, cached or not (how full the context is)."""
    output_tokens: int = 0
    cache_read_tokens: int = 0
    """Prompt tokens read from the provider's cache (billed at a fraction)."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the cache (billed at a premium)."""


@dataclass(frozen=True)
class Stop:
    reason: str = "end_turn"


ProviderEvent = TextChunk | ThinkingChunk | ThinkingBlock | ToolCall | UsageReport | Stop


class TransientError(ProviderError):
    """A failure worth retrying: refused or reset connection, timeout, 429, 5xx, overload."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class Provider(Protocol):
    name: str
    """``ollama``, ``anthropic`` or ``scripted``."""
    model: str
    uses_text_protocol: bool
    """True when the model has no tool support and edits travel as fenced text blocks."""
    context_window: int | None
    """Tokens the model reads at most (known after ``prepare``), or ``None`` if unknown."""

    async def prepare(self) -> None:
        """Learn what the model can do (may call the server); raises ``ProviderError``."""

    def stream(self, messages: list[dict[str, Any]], system: str) -> AsyncIterator[ProviderEvent]:
        """Stream one model response."""
        ...

    async def list_models(self) -> list[str]:
        """The models this provider can use."""
        ...

    async def aclose(self) -> None:
        """Release connections."""

    warm_import: str | None
    """A module worth importing in the background before the first request (its SDK)."""

    def cost(
        self, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
    ) -> float:
        """USD for one call (``input_tokens`` uncached); 0.0 where nothing is billed."""
        ...


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class FreeOfCharge:
    """For providers that bill nothing (a local model, a script): ``cost`` is zero and
    no SDK is worth warming up."""

    warm_import: str | None = None

    def cost(
        self, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
    ) -> float:
        return 0.0
