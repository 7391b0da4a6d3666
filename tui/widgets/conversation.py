"""The centre pane: messages as Markdown, tool calls as collapsible rows, notices inline."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets._markdown import MarkdownStream

from engine.events import ToolCallStarted, ToolResult
from engine.store import Message


class UserMessage(Static):
    """What the user sent (shown as plain text, never as markup)."""

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(Text(text), **kwargs)  # type: ignore[arg-type]
        self.border_title = "You"


class AssistantMessage(Markdown):
    """An assistant reply; streams through ``Markdown.get_stream``."""

    def __init__(
        self,
        text: str = "",
        *,
        message_id: int | None = None,
        status: str = "complete",
        **kwargs: object,
    ) -> None:
        super().__init__(text, **kwargs)  # type: ignore[arg-type]
        self.message_id = message_id
        self.chunks: list[str] = [text] if text else []
        self._stream: MarkdownStream | None = None
        self.border_title = "Assistant" + ("" if status == "complete" else f" · {status}")

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    async def write(self, fragment: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
        self.chunks.append(fragment)
        await self._stream.write(fragment)

    async def finish(self, status: str | None = None) -> None:
        """Stop streaming; one final ``update`` makes the rendering exact."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
            await self.update(self.text)
        if status and status != "complete":
            self.border_title = f"Assistant · {status}"

    async def reset(self) -> None:
        """Forget streamed text (a retry starts the reply afresh)."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.chunks.clear()
        await self.update("")


class ToolCallRow(Collapsible):
    """One tool call: command, path and a one-line result; the full result when expanded."""

    def __init__(self, call_id: str, command: str, path: str, **kwargs: object) -> None:
        self.call_id = call_id
        self.command = command
        self.path = path
        self.body = Static("running…", classes="tool-body", markup=False)
        name = path.rsplit("/", 1)[-1]
        super().__init__(self.body, title=f"⚙ {command} {name} …", collapsed=True, **kwargs)  # type: ignore[arg-type]

    DONE = {"view": "viewed", "str_replace": "edited", "insert": "inserted",
            "create": "created", "undo_edit": "undone"}  # fmt: skip

    def set_result(self, text: str, is_error: bool) -> None:
        first = text.strip().splitlines()[0] if text.strip() else "(no output)"
        summary = first if is_error else self.DONE.get(self.command, first)
        if not is_error and "Score check warnings:" in text:
            summary += " · with warnings"
        mark = "✗" if is_error else "✓"
        name = self.path.rsplit("/", 1)[-1]
        self.title = f"{mark} {self.command} {name} — {summary}"
        self.set_class(is_error, "-error")
        self.body.update(Text(text))


class Notice(Static):
    """A retry, an error, a cancellation or a hint, inline in the conversation."""

    def __init__(self, text: str, kind: str = "info", **kwargs: object) -> None:
        super().__init__(Text(text), classes=f"notice -{kind}", **kwargs)  # type: ignore[arg-type]


class WorkingIndicator(Static):
    """Elapsed time and a live token count while a turn runs."""

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.started: float | None = None
        self.tokens = 0
        self.label = "Thinking"
        self._frame = 0

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(0.1, self._tick)

    def begin(self) -> None:
        self.started = time.monotonic()
        self.tokens = 0
        self.label = "Thinking"
        self.display = True
        self._tick()

    def end(self) -> None:
        self.started = None
        self.display = False

    def _tick(self) -> None:
        if self.started is None:
            return
        self._frame = (self._frame + 1) % len(self.SPINNER)
        elapsed = time.monotonic() - self.started
        self.update(
            Text.assemble(
                (self.SPINNER[self._frame] + " ", "bold yellow"),
                f"{self.label} {elapsed:4.1f}s · {self.tokens} tokens · ",
                ("Esc", "bold"),
                " to stop",
            )
        )


class Conversation(VerticalScroll):
    """The messages of one session, newest at the bottom."""

    @dataclass
    class LoadOlder(TextualMessage):
        """The user scrolled to the top while older messages are not shown yet."""

        conversation: Conversation

        @property
        def control(self) -> Conversation:
            return self.conversation

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.oldest_id: int | None = None
        """The id of the oldest message shown; older ones load on demand."""
        self.has_older = False
        self._assistant: dict[int, AssistantMessage] = {}
        self._tools: dict[str, ToolCallRow] = {}

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value and self.has_older:
            self.post_message(self.LoadOlder(self))

    async def clear(self) -> None:
        self._assistant.clear()
        self._tools.clear()
        self.oldest_id = None
        self.has_older = False
        await self.remove_children()

    async def add_user(self, text: str) -> UserMessage:
        await self.query(".notice.-hint").remove()
        widget = UserMessage(text)
        await self.mount(widget)
        self.anchor()
        return widget

    async def assistant(self, message_id: int) -> AssistantMessage:
        widget = self._assistant.get(message_id)
        if widget is None:
            widget = AssistantMessage(message_id=message_id)
            self._assistant[message_id] = widget
            await self.mount(widget)
        return widget

    async def finish_assistant(self, status: str | None = None) -> None:
        for widget in list(self._assistant.values()):
            await widget.finish(status)

    async def add_tool_call(self, event: ToolCallStarted) -> ToolCallRow:
        row = ToolCallRow(event.call_id, event.command, event.path)
        self._tools[event.call_id] = row
        await self.mount(row)
        return row

    def set_tool_result(self, event: ToolResult) -> None:
        row = self._tools.get(event.call_id)
        if row is not None:
            row.set_result(event.text, event.is_error)

    async def add_notice(self, text: str, kind: str = "info") -> Notice:
        widget = Notice(text, kind)
        await self.mount(widget)
        return widget

    async def show_messages(self, messages: list[Message], *, older: bool = False) -> None:
        """Mount stored messages: at the end, or before the first when ``older``."""
        widgets = self._widgets_for(messages)
        if not widgets:
            return
        if older and self.children:
            await self.mount_all(widgets, before=0)
        else:
            await self.mount_all(widgets)
        if messages:
            self.oldest_id = min(messages[0].id, self.oldest_id or messages[0].id)

    def _widgets_for(self, messages: list[Message]) -> list[object]:
        widgets: list[object] = []
        rows: dict[str, ToolCallRow] = {}
        for message in messages:
            if message.role == "user":
                widgets.append(UserMessage(message.text))
            elif message.role == "assistant":
                if message.text or message.status != "complete":
                    widgets.append(
                        AssistantMessage(message.text, message_id=message.id, status=message.status)
                    )
                for part in message.parts:
                    if part.get("type") == "tool_use":
                        args = part.get("input") or {}
                        row = ToolCallRow(
                            part.get("id", ""),
                            str(args.get("command", "?")),
                            str(args.get("path", "")),
                        )
                        rows[part.get("id", "")] = row
                        widgets.append(row)
            elif message.role == "tool":
                for part in message.parts:
                    row = rows.get(part.get("tool_use_id", ""))
                    if row is not None:
                        row.set_result(str(part.get("content", "")), bool(part.get("is_error")))
        return widgets
