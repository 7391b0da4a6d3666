"""Replays a JSON script of assistant responses: for tests and a clearly labelled demo.

The script is a list of responses, each a list of blocks::

    [
      [{"type": "tool_use", "name": "str_replace_editor",
        "input": {"command": "view", "path": "Card/Score.yaml"}}],
      [{"type": "text", "text": "Done."}]
    ]

or an object ``{"responses": [...], "chunk_delay": 0.01}``. Each model call plays the
next response; text is streamed word by word.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ProviderError, UsageError
from engine.providers import base as stream
from engine.providers.base import FreeOfCharge, ProviderEvent

if TYPE_CHECKING:
    from engine.settings import Settings


def load_script(path: Path) -> tuple[list[list[dict[str, Any]]], float]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"The script {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"The script {path} cannot be read: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"The script {path} is not valid JSON (line {exc.lineno}: {exc.msg})."
        ) from None
    delay: Any = 0.0
    if isinstance(data, dict):
        delay = data.get("chunk_delay", 0.0)
        data = data.get("responses", data.get("turns"))
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise UsageError(f"The script {path} must be a list of responses, each a list of blocks.")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 10:
        raise UsageError(
            f"The script {path} has chunk_delay {json.dumps(delay)}: it is the seconds between "
            "streamed words, a number from 0 to 10."
        )
    for number, response in enumerate(data, 1):
        for place, block in enumerate(response, 1):
            problem = _block_problem(block)
            if problem:
                raise UsageError(
                    f"The script {path}: block {place} of response {number} {problem}."
                )
    return data, float(delay)


#: Each kind of block a script may hold, and its fields that must be text when given.
BLOCK_TEXT_FIELDS = {
    "text": ("text",), "thinking": ("text",), "tool_use": ("name", "id"), "error": ("message",),
}  # fmt: skip


def _block_problem(block: Any) -> str | None:
    """What is wrong with a script's block, as the end of a sentence; None when nothing."""
    if not isinstance(block, dict):
        return 'is not an object like {"type": "text", "text": "..."}'
    kind = block.get("type")
    if kind not in BLOCK_TEXT_FIELDS:
        kinds = ", ".join(BLOCK_TEXT_FIELDS)
        return f"has the type {json.dumps(kind)}; a block's type is one of {kinds}"
    for name in BLOCK_TEXT_FIELDS[kind]:
        if name in block and not isinstance(block[name], str):
            return f'has "{name}": {json.dumps(block[name])[:40]}, which is not a string'
    return None


class ScriptedProvider(FreeOfCharge):
    name = "scripted"

    uses_text_protocol = False
    context_window: int | None = None

    def __init__(
        self,
        responses: list[list[dict[str, Any]]],
        *,
        model: str = "script",
        chunk_delay: float = 0.0,
    ):
        self.model = model
        self.responses = list(responses)
        self.chunk_delay = chunk_delay
        self.calls: list[dict[str, Any]] = []
        """Every request received (messages and system), for tests to inspect."""

    @classmethod
    def from_file(cls, path: Path) -> ScriptedProvider:
        responses, delay = load_script(path)
        return cls(responses, model=Path(path).stem, chunk_delay=delay)

    async def prepare(self) -> None:
        return None

    async def list_models(self) -> list[str]:
        return [self.model]

    async def aclose(self) -> None:
        return None

    async def stream(
        self, messages: list[dict[str, Any]], system: str
    ) -> AsyncIterator[ProviderEvent]:
        self.calls.append({"messages": copy.deepcopy(messages), "system": system})
        if not self.responses:
            raise ProviderError("The script has no more responses.")
        response = self.responses.pop(0)
        out_tokens = 0
        for index, block in enumerate(response):
            kind = block.get("type")
            if kind == "text":
                for piece in re.findall(r"\S+\s*|\s+", block.get("text", "")):
                    out_tokens += 1
                    if self.chunk_delay:
                        await asyncio.sleep(self.chunk_delay)
                    else:
                        await asyncio.sleep(0)
                    yield stream.TextChunk(piece)
            elif kind == "tool_use":
                raw = block.get("input")
                yield stream.ToolCall(
                    block.get("id") or f"script_{len(self.calls)}_{index}",
                    block.get("name", "str_replace_editor"),
                    raw if isinstance(raw, dict) else None,
                    None if isinstance(raw, dict) else "the arguments must be a JSON object",
                )
            elif kind == "thinking":
                thought = block.get("text", "")
                for piece in re.findall(r"\S+\s*|\s+", thought):
                    await asyncio.sleep(self.chunk_delay)
                    yield stream.ThinkingChunk(piece)
                yield stream.ThinkingBlock(thought)
            elif kind == "error":
                raise ProviderError(block.get("message", "The script raised an error."))
        yield stream.UsageReport(sum(len(str(m)) for m in messages) // 4, out_tokens)
        yield stream.Stop("end_turn")


def from_settings(settings: Settings, model: str | None) -> ScriptedProvider:
    """The registry's factory (``registry.PROVIDERS``)."""
    if settings.script is None:
        raise UsageError("The scripted provider needs a script: pass --script FILE.")
    return ScriptedProvider.from_file(settings.script)
