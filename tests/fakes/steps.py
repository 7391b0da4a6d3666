"""What a fake server does for one request: a reply, or a fault to inject."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    # The reply.
    text: str = ""
    thinking: str = ""
    """Thinking to stream before the reply (Anthropic thinking block; Ollama ``thinking``)."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Each ``{"name": str, "input": dict | str}``; a non-dict input is sent malformed."""
    input_tokens: int = 42
    output_tokens: int | None = None
    stop_reason: str | None = None
    """The stop reason (Anthropic) or ``done_reason`` (Ollama) to report, e.g. ``max_tokens``."""

    # Its pace.
    words_per_chunk: int = 1
    delay: float = 0.0
    """Seconds between chunks."""
    first_byte_delay: float = 0.0
    stall: float = 0.0
    """Stop sending for this many seconds after the first chunk."""

    # An answer that is not a stream.
    status: int = 200
    """A non-200 status answers with an error body instead of a stream."""
    error: str = "injected failure"
    error_type: str = "api_error"
    headers: dict[str, str] = field(default_factory=dict)

    # A stream that breaks, stops early or lies.
    drop_after: int | None = None
    """Close the connection after this many chunks."""
    malformed_after: int | None = None
    """Send a line that is not JSON after this many chunks."""
    mid_stream_error: str | None = None
    """An error sent inside the stream after the first chunks (e.g. ``overloaded_error``)."""
    end_early: bool = False
    """End the stream cleanly but without its final event (no ``message_stop``/``done``)."""
    cut_tool_call: bool = False
    """Anthropic: stop inside the last tool call's arguments (no ``content_block_stop``)."""
    more_after_end: bool = False
    """A server that goes on after the reply's final event: Ollama sends the reply again,
    ``done`` line included; Anthropic sends the reply's tool calls again, then another
    ``message_stop``."""
    forever: bool = False
    """A reply that never ends: Ollama sends the text again and again; Anthropic sends the
    last tool call's arguments, then more of them, without end."""


def split_words(text: str, per_chunk: int) -> list[str]:
    import re

    pieces = re.findall(r"\S+\s*|\s+", text)
    if per_chunk <= 1:
        return pieces
    return ["".join(pieces[i : i + per_chunk]) for i in range(0, len(pieces), per_chunk)]
