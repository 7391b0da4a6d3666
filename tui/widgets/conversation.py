"""The centre pane: messages as Markdown, tool calls as collapsible rows, notices inline."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.selection import Selection
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from tui.widgets import WidgetMessage

if TYPE_CHECKING:
    from engine.events import ToolCallStarted, ToolResult
    from engine.store import StoredMessage


class UserMessage(Static):
    """What the user sent (shown as plain text, never as markup)."""

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(Text(text), **kwargs)  # type: ignore[arg-type]
        self.border_title = "You"
        self.message_id: int | None = None
        """The stored message shown, once it is known."""


def split_blocks(text: str) -> tuple[list[str], str]:
    """Markdown ``text`` as its complete blocks and the unfinished tail.

    A block ends at a blank line outside a code fence; the tail is what follows the
    last such line (it may still grow).
    """
    blocks: list[str] = []
    start = 0
    fence = False
    position = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = not fence
        position += len(line)
        if not fence and not stripped and line.endswith("\n"):
            block = text[start:position].strip("\n")
            if block.strip():
                blocks.append(block)
            start = position
    return blocks, text[start:]


class _Trimmed:
    """A renderable without the blank lines Rich puts before and after some blocks.

    Its lines are kept per width: measuring a block's height and drawing it (and drawing
    it again when it scrolls back into view) parse and lay out the Markdown once.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._lines: dict[tuple[int, str], list[list[Segment]]] = {}

    def _render(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        key = (options.max_width, console.color_system or "")
        lines = self._lines.get(key)
        if lines is None:
            lines = console.render_lines(self.renderable, options.reset_height(), pad=False)
            blank = lambda line: not "".join(s.text for s in line).strip()  # noqa: E731
            while lines and blank(lines[0]):
                lines.pop(0)
            while lines and blank(lines[-1]):
                lines.pop()
            if len(self._lines) > 4:  # a few widths at most (resizes)
                self._lines.clear()
            self._lines[key] = lines
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self._render(console, options):
            yield from line
            yield newline


def render_markdown(source: str) -> _Trimmed:
    from rich.markdown import Markdown as RichMarkdown  # deferred: not needed for the first frame

    return _Trimmed(RichMarkdown(source, code_theme="monokai"))


_WARM_SAMPLE = """# Title

Some *text* with `code`.

- an item

```yaml
key: value
```

| a | b |
|---|---|
| 1 | 2 |
"""


def warm_markdown() -> None:
    """Render a sample reply once with a private console: imports and caches what the
    first real reply would otherwise load on the event loop."""
    console = Console(width=80, file=io.StringIO(), color_system="truecolor")
    console.render_lines(render_markdown(_WARM_SAMPLE), console.options)


class MarkdownBlock(Static):
    """One finished block of a reply, rendered once."""

    DEFAULT_CSS = """
    MarkdownBlock {
        height: auto;
        margin: 1 0 0 0;
    }
    MarkdownBlock.-first {
        margin: 0;
    }
    """

    def __init__(self, source: str, first: bool = False) -> None:
        super().__init__(render_markdown(source), classes="-first" if first else "")
        self.source = source

    def set_source(self, source: str) -> None:
        if source != self.source:
            self.source = source
            self.update(render_markdown(source))


class ReplyLines(Widget):
    """The finished blocks of a reply, drawn from lines rendered once per width.

    A Line API widget: each block's Markdown is laid out once (again only when the
    width changes) and kept as strips, so a frame draws the visible lines from that
    cache, and a reply of hundreds of blocks is one widget to lay out, not hundreds.
    Text can be selected with the mouse as in any other widget.
    """

    DEFAULT_CSS = """
    ReplyLines {
        height: auto;
    }
    """

    ALLOW_SELECT = True

    FRAME_BUDGET = 0.012
    """Seconds of Markdown lay-out one frame may spend while a reply streams: a key
    pressed meanwhile waits for that frame (30 ms made the first key of a burst wait
    80-150 ms; docs/performance.md)."""

    def __init__(self, blocks: list[str] | None = None, *, budget: bool = False) -> None:
        super().__init__()
        self.blocks: list[str] = list(blocks or [])
        self._budget = budget
        """Lay out at most ``FRAME_BUDGET`` per frame (a streaming reply); a reply from
        history is laid out whole, so that scrolling lands where it should."""
        self._width = 0
        self._strips: list[Strip] = []
        self._plain: list[str] = []
        self._drawn = 0
        """How many of ``blocks`` are in ``_strips`` at ``_width``."""
        self.hold: Callable[[], float] = lambda: 0.0
        """Seconds to wait before laying out more (the person is typing)."""
        self.laid_out: Callable[[], None] = lambda: None
        """Called once every block is laid out (the reply's live tail can go then)."""
        self._retry: Timer | None = None
        self._spent = False
        """The frame's lay-out budget is spent: no more blocks until the retry timer
        fires (Textual measures a widget more than once in one lay-out)."""
        self._at_once = False
        self._in_thread = False
        """Blocks are being laid out in a thread (a reply that ended while keys came)."""

    def _lay_out_more(self) -> None:
        self._retry = None
        self._spent = False
        self.refresh(layout=True)

    def add(self, blocks: list[str], *, at_once: bool = False) -> None:
        """Append finished blocks. ``at_once`` lays all of them out in the next frame,
        whatever the budget (a reply that ends: its tail leaves the live block in the
        same frame as it arrives here, so the reply never shrinks for a frame)."""
        if blocks:
            self.blocks.extend(blocks)
            self._at_once = self._at_once or at_once
            self.refresh(layout=True)

    @property
    def pending(self) -> bool:
        """True while some finished blocks are not laid out yet."""
        return self._drawn < len(self.blocks)

    def clear(self) -> None:
        self.blocks.clear()
        self._width = 0  # the next lay-out starts afresh
        self.refresh(layout=True)

    def _lay_out(self, width: int) -> None:
        if width <= 0 or self._in_thread:
            return
        typing = self._budget and self.hold() > 0
        resized = width != self._width and self._drawn > 0
        if width != self._width and not (resized and typing):
            self._width, self._strips, self._plain, self._drawn = width, [], [], 0
        if self._drawn == len(self.blocks) and width == self._width:
            return
        if typing and (self._at_once or resized):
            # The reply ended (or the pane's width changed) while the person types: the
            # lines are laid out in a thread, so their keys are drawn meanwhile, and what
            # is shown stays (the live tail, or the lines at the old width) until then.
            self._in_thread = True
            self.run_worker(
                self._lay_out_in_thread(width, afresh=resized), group="reply-lines",
                exit_on_error=False,
            )  # fmt: skip
            return
        self._append(*self._render_blocks(self.blocks[self._drawn :], width, budgeted=True))

    async def _lay_out_in_thread(self, width: int, *, afresh: bool) -> None:
        blocks = self.blocks if afresh else self.blocks[self._drawn :]
        start = 0 if afresh else len(self._strips)
        try:
            rendered = await asyncio.to_thread(
                self._render_blocks, blocks, width, budgeted=False, start=start
            )
        finally:
            self._in_thread = False
        if afresh:
            self._width, self._strips, self._plain, self._drawn = width, [], [], 0
        if width == self._width and len(self._strips) == start:
            self._append(*rendered)
        self.refresh(layout=True)

    def _render_blocks(
        self, blocks: list[str], width: int, *, budgeted: bool, start: int | None = None
    ) -> tuple[list[Strip], list[str], int]:
        """The lines of ``blocks`` from line ``start`` of the reply (a blank line before
        all but its first block), their text, and how many blocks they are: as many as
        the frame's budget allows when ``budgeted``. Runs in a thread too: it reads the
        widget, never changes it."""
        console = self.app.console
        options = console.options.update(width=width, max_width=width, height=None)
        base = self.rich_style  # the colours under the text, as a Static draws them
        started = time.perf_counter()
        y = len(self._strips) if start is None else start
        strips: list[Strip] = []
        plain: list[str] = []
        count = 0
        for block in blocks:
            if (
                budgeted
                and self._budget
                and not self._at_once
                and (
                    self._spent
                    or time.perf_counter() - started > self.FRAME_BUDGET
                    or self.hold() > 0
                )
            ):
                # Keys and the rest of the screen come first: the remaining blocks are
                # laid out in the next frames, and not while the person types.
                self._spent = True
                if self._retry is None:
                    self._retry = self.set_timer(
                        max(self.hold(), 1 / 60), self._lay_out_more, name="reply-lines"
                    )
                break
            lines = console.render_lines(render_markdown(block), options, pad=True)
            if y + len(strips):
                lines.insert(0, [Segment(" " * width)])  # the blank line between blocks
            for line in lines:
                # Offsets are applied once: they map the mouse to text for selection.
                styled = list(Segment.apply_style(line, base))
                strips.append(Strip(styled, width).apply_offsets(0, y + len(strips)))
                plain.append("".join(segment.text for segment in line).rstrip())
            count += 1
        return strips, plain, count

    def _append(self, strips: list[Strip], plain: list[str], count: int) -> None:
        self._strips.extend(strips)
        self._plain.extend(plain)
        self._drawn += count
        if self._drawn == len(self.blocks):
            self._at_once = False
            self.laid_out()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._lay_out(width)
        return len(self._strips)

    def render_line(self, y: int) -> Strip:
        # Drawing never lays out: the lines are those the last lay-out made (a width
        # that differs for a moment, as when a scrollbar comes or goes, is cropped or
        # padded until the lay-out that follows renders them at the new width).
        width = self.size.width
        if y >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        strip = self._strips[y]
        if width != self._width:
            strip = strip.crop_extend(0, width, self.rich_style)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            start, end = span
            end = len(self._plain[y]) if end == -1 else end
            if end > start:
                style = self.screen.get_component_rich_style("screen--selection")
                before, chosen, after = strip.divide([start, end, width])
                strip = Strip.join([before, chosen.apply_style(style), after])
                strip = strip.apply_offsets(0, y)
        return strip

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self._plain)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()


class AssistantMessage(Vertical):
    """An assistant reply, streamed block by block.

    Finished blocks (text up to a blank line outside a code fence) go into one
    ``ReplyLines``, laid out once and never touched again; only the unfinished tail
    is a live ``MarkdownBlock``, re-rendered at most every ``FLUSH_INTERVAL`` seconds.
    A token therefore costs the same at the 8,000th as at the 10th, and each frame
    lays out two widgets per reply however long it is (docs/performance.md).
    """

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        layout: stream;
    }
    """

    FLUSH_INTERVAL = 1 / 20

    def __init__(
        self,
        text: str = "",
        *,
        message_id: int | None = None,
        status: str = "complete",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.message_id = message_id
        self.chunks: list[str] = [text] if text else []
        self._pending: list[str] = []
        self._tail = ""
        blocks, tail = split_blocks(text)
        self._lines = ReplyLines(blocks + ([tail] if tail.strip() else []), budget=not text)
        self._live: MarkdownBlock | None = None
        self._last_flush = 0.0
        self._timer: Timer | None = None
        self.border_title = "Assistant" + ("" if status == "complete" else f" · {status}")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._lines

    def on_mount(self) -> None:
        conversation = self.parent
        if isinstance(conversation, Conversation):
            self._lines.hold = conversation.typing_hold

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def source(self) -> str:
        """The Markdown shown (for tests and export)."""
        return self.text

    async def write(self, fragment: str) -> None:
        self.chunks.append(fragment)
        self._pending.append(fragment)
        wait = self.FLUSH_INTERVAL - (time.monotonic() - self._last_flush)
        if wait <= 0:
            await self._flush()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._flush)

    async def _flush(self, *, final: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self._pending:
            return
        conversation = self.parent
        hold = conversation.typing_hold() if isinstance(conversation, Conversation) else 0
        if hold > 0 and not final:
            self._timer = self.set_timer(hold, self._flush)
            return
        self._last_flush = time.monotonic()
        self._tail += "".join(self._pending)
        self._pending.clear()
        blocks, self._tail = split_blocks(self._tail)
        self._lines.add(blocks)
        if not self._tail.strip():
            await self._drop_live()
        elif self._live is None:
            self._live = MarkdownBlock(self._tail, first=not self._lines.blocks)
            await self.mount(self._live)
        else:
            self._live.set_class(not self._lines.blocks, "-first")
            self._live.set_source(self._tail)

    async def _drop_live(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            await live.remove()

    async def finish(self, status: str | None = None) -> None:
        """Stop streaming: render what is pending; the tail becomes a finished block."""
        await self._flush(final=True)
        self._lines.add([self._tail.strip("\n")] if self._tail.strip() else [], at_once=True)
        if self._lines.pending:
            self._lines._at_once = True
            self._lines.refresh(layout=True)
        self._tail = ""
        if self._lines.pending and self._lines.hold() > 0 and self._live is not None:
            # Laid out in a thread while the person types: the live tail stays (and the
            # reply keeps its height) until the lines that replace it are ready.
            self._lines.laid_out = self._hide_live
        else:
            await self._drop_live()
        if status and status != "complete":
            self.border_title = f"Assistant · {status}"

    def _hide_live(self) -> None:
        """Hide the live tail in the frame that draws the lines replacing it."""
        self._lines.laid_out = lambda: None
        if self._live is not None:
            live, self._live = self._live, None
            live.display = False
            live.remove()

    async def reset(self) -> None:
        """Forget streamed text (a retry starts the reply afresh)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._pending.clear()
        self._tail = ""
        self.chunks.clear()
        await self._drop_live()
        self._lines.clear()


NOT_RUN = "Not run: the turn ended (quit, crash or error) before this tool call ran."


class ToolCallRow(Collapsible):
    """One tool call: command, path and a one-line result; the full result when expanded."""

    def __init__(self, call_id: str, command: str, path: str, **kwargs: object) -> None:
        self.call_id = call_id
        self.edit_id: int | None = None
        """The edit this call made, if it wrote the file."""
        self.undone = False
        self._applied_title = ""
        self.command = command
        self.path = path
        self.body = Static("running…", classes="tool-body", markup=False)
        name = path.rsplit("/", 1)[-1]
        title = f"⚙ {command} {name} …"
        # Content, not a str: a path or command the model wrote is never parsed as markup.
        super().__init__(self.body, title=Content(title), collapsed=True, **kwargs)  # type: ignore[arg-type]
        self.set_reactive(ToolCallRow.title, title)

    def _watch_title(self, title: str) -> None:
        # Plain text, never markup.
        self._title.label = Content(title) if isinstance(title, str) else title

    DONE = {"view": "viewed", "str_replace": "edited", "insert": "inserted",
            "create": "created", "undo_edit": "undone"}  # fmt: skip

    def set_undone(self, undone: bool) -> None:
        """Show the call's edit as undone (or applied again); said early in the title so
        that a narrow pane does not cut it off."""
        if undone and not self.undone:
            self._applied_title = self.title
            name = self.path.rsplit("/", 1)[-1]
            self.title = f"↶ {self.command} {name} — undone"
        elif not undone and self.undone:
            self.title = self._applied_title or self.title
        self.undone = undone
        self.set_class(undone, "-undone")

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


class ThinkingRow(Collapsible):
    """The model's thinking for one reply: one line with its length; Enter shows it."""

    def __init__(self, text: str = "", **kwargs: object) -> None:
        self.body = Static(Text(text), classes="tool-body", markup=False)
        self.text = text
        super().__init__(self.body, title=self._title_for(text), collapsed=True, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def _title_for(text: str) -> str:
        return f"💭 Thinking · {len(text):,} characters"

    def _watch_title(self, title: str) -> None:
        self._title.label = Content(title) if isinstance(title, str) else title

    def add(self, chunk: str) -> None:
        self.text += chunk
        self.title = self._title_for(self.text)
        if not self.collapsed:
            self.body.update(Text(self.text))

    def _watch_collapsed(self, collapsed: bool) -> None:
        if not collapsed:
            self.body.update(Text(self.text))
        super()._watch_collapsed(collapsed)


class NoticeLine(Static):
    """A retry, an error, a cancellation or a hint, inline in the conversation."""

    def __init__(self, text: str, kind: str = "info", **kwargs: object) -> None:
        super().__init__(Text(text), classes=f"notice -{kind}", **kwargs)  # type: ignore[arg-type]


class WorkingIndicator(Widget):
    """Elapsed time and a live token count while a turn runs.

    It repaints itself without asking for a layout: a ticking ``Static.update`` would
    re-arrange the whole screen ten times a second while a reply streams.
    """

    DEFAULT_CSS = """
    WorkingIndicator {
        height: 1;
    }
    """

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.started: float | None = None
        self.tokens = 0
        self.label = "Thinking"
        self._frame = 0

    def on_mount(self) -> None:
        self.visible = False
        self.set_interval(0.1, self._tick)

    def begin(self) -> None:
        self.started = time.monotonic()
        self.tokens = 0
        self.label = "Thinking"
        self.visible = True
        self.refresh()

    def end(self) -> None:
        self.started = None
        self.visible = False

    def _tick(self) -> None:
        if self.started is not None:
            self._frame = (self._frame + 1) % len(self.SPINNER)
            self.refresh()

    def render(self) -> Text:
        if self.started is None:
            return Text("")
        elapsed = time.monotonic() - self.started
        return Text.assemble(
            (self.SPINNER[self._frame] + " ", "bold yellow"),
            f"{self.label} {elapsed:4.1f}s · {self.tokens} tokens · ",
            ("Esc", "bold"),
            " to stop",
        )


class Conversation(VerticalScroll):
    """The messages of one session, newest at the bottom."""

    @dataclass
    class LoadPage(WidgetMessage):
        """The user reached the top while older messages are not shown yet (``older``),
        or the bottom while newer ones were released."""

        older: bool

    MOUNTED_MESSAGES = 120
    """Stored messages kept mounted; past this, the end far from what is read is released
    (and loads again on scrolling back), so a 10,000-message session costs what 100 do."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.oldest_id: int | None = None
        """The id of the oldest message shown; older ones load on demand."""
        self.has_older = False
        self.newest_id: int | None = None
        """The id of the newest message shown once newer ones were released."""
        self.has_newer = False
        self._assistant: dict[int, AssistantMessage] = {}
        self._tools: dict[str, ToolCallRow] = {}
        self._thinking: dict[int, ThinkingRow] = {}
        self.last_input: Callable[[], float] = lambda: 0.0
        """When the person last pressed a key (set by the screen that holds the prompt)."""

    TYPING_HOLD = 0.3
    """Seconds after a key during which a streaming reply is not drawn."""

    def typing_hold(self) -> float:
        """Seconds to wait before drawing more of a streaming reply: input comes first,
        so while the person types, a frame only has their key to draw."""
        return self.last_input() + self.TYPING_HOLD - time.monotonic()

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value and self.has_older:
            self.post_message(self.LoadPage(self, True))
        elif new_value >= self.max_scroll_y > old_value and self.has_newer:
            self.post_message(self.LoadPage(self, False))

    def on_mouse_scroll_up(self) -> None:
        self.at_edge(-1)  # already at the top: scrolling up again asks for older messages

    def on_mouse_scroll_down(self) -> None:
        self.at_edge(1)

    def at_edge(self, direction: int) -> None:
        """A wheel turn or page key at the top (``-1``) or bottom (``1``): the next page."""
        if direction < 0 and self.scroll_y <= 0 and self.has_older:
            self.post_message(self.LoadPage(self, True))
        elif direction > 0 and self.scroll_y >= self.max_scroll_y and self.has_newer:
            self.post_message(self.LoadPage(self, False))

    async def clear(self) -> None:
        self._assistant.clear()
        self._tools.clear()
        self._thinking.clear()
        self.oldest_id = None
        self.has_older = False
        self.newest_id = None
        self.has_newer = False
        await self.remove_children()

    async def release(self, newest: bool) -> None:
        """Unmount stored messages past ``MOUNTED_MESSAGES`` at the far end: the newest
        (after loading older ones) or the oldest. Live widgets of a turn are never
        released."""
        stored = [w for w in self.children if getattr(w, "source_id", None) is not None]
        ids = sorted({w.source_id for w in stored})  # type: ignore[attr-defined]
        excess = len(ids) - self.MOUNTED_MESSAGES
        if excess <= 0:
            return
        if newest:
            cut = ids[-excess]
            if any(getattr(w, "source_id", None) is None for w in self._after(cut)):
                return  # a turn's live widgets are at the end: keep everything
            gone = [w for w in stored if w.source_id >= cut]  # type: ignore[attr-defined]
            self.has_newer = True
            self.newest_id = ids[-excess - 1]
        else:
            cut = ids[excess]
            gone = [w for w in self.children if (getattr(w, "source_id", None) or cut) < cut]
            gone += [w for w in self.children if w.has_class("-hint")]
            self.has_older = True
            self.oldest_id = cut
        for widget in gone:
            self._forget(widget)
        await self.remove_children(gone)

    def adopt_live(self, message_id: int) -> None:
        """Count what a finished turn drew as stored message ``message_id`` (its last):
        from then on it is released and loaded again like any stored message."""
        for widget in self.children:
            if getattr(widget, "source_id", None) is None and not widget.has_class("-hint"):
                widget.source_id = message_id  # type: ignore[attr-defined]

    def _after(self, cut: int) -> list[Widget]:
        """Every child from the first stored message with id ``cut`` on."""
        children = list(self.children)
        start = next(
            (i for i, w in enumerate(children) if (getattr(w, "source_id", None) or 0) >= cut),
            len(children),
        )
        return children[start:]

    def _forget(self, widget: Widget) -> None:
        if isinstance(widget, AssistantMessage) and widget.message_id is not None:
            self._assistant.pop(widget.message_id, None)
        elif isinstance(widget, ToolCallRow):
            self._tools.pop(widget.call_id, None)

    async def add_user(self, text: str) -> UserMessage:
        await self.query(".notice.-hint").remove()
        widget = UserMessage(text)
        await self.mount(widget)
        self.anchor()
        return widget

    async def thinking(self, message_id: int, chunk: str) -> None:
        """Add streamed thinking for the reply ``message_id`` (a collapsed row)."""
        row = self._thinking.get(message_id)
        if row is None:
            row = ThinkingRow()
            self._thinking[message_id] = row
            await self.mount(row)
        row.add(chunk)

    async def assistant(self, message_id: int) -> AssistantMessage:
        widget = self._assistant.get(message_id)
        if widget is None:
            widget = AssistantMessage(message_id=message_id)
            self._assistant[message_id] = widget
            await self.mount(widget)
        return widget

    async def finish_assistant(self, status: str | None = None) -> None:
        """Finish the replies streaming now, marked ``status`` when given; replies
        finished before are left as they are (a failed turn marked every reply drawn
        since the session opened as failed, and each turn finished them all again)."""
        streaming = list(self._assistant.values())
        self._assistant.clear()
        for widget in streaming:
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
            row.edit_id = event.edit_id

    def message_widget(self, message_id: int | None) -> Widget | None:
        """The widget showing stored message ``message_id``, if it is mounted."""
        for child in self.children:
            if getattr(child, "message_id", None) == message_id:
                return child
        return None

    def mark_undone(self, edit_id: int | None, undone: bool) -> None:
        """Show the tool call that made edit ``edit_id`` as undone (or applied again)."""
        if edit_id is None:
            return
        for row in self.query(ToolCallRow):
            if row.edit_id == edit_id:
                row.set_undone(undone)

    async def add_notice(self, text: str, kind: str = "info") -> NoticeLine:
        widget = NoticeLine(text, kind)
        await self.mount(widget)
        return widget

    async def show_messages(
        self, messages: list[StoredMessage], *, older: bool = False, undone: set[int] | None = None
    ) -> None:
        """Mount stored messages: at the end, or before the first when ``older``.

        ``undone`` holds the ids of edits since undone: their tool calls say so.
        """
        widgets = self._widgets_for(messages, undone or set())
        if not widgets:
            return
        if older and self.children:
            await self.mount_all(widgets, before=0)
        else:
            await self.mount_all(widgets)
        if messages:
            self.oldest_id = min(messages[0].id, self.oldest_id or messages[0].id)

    def _widgets_for(self, messages: list[StoredMessage], undone: set[int]) -> list[Widget]:
        widgets: list[Widget] = []
        rows: dict[str, ToolCallRow] = {}
        pending: dict[str, tuple[ToolCallRow, int]] = {}
        for position, message in enumerate(messages):
            first = len(widgets)
            self._widgets_of(message, position, widgets, rows, pending, undone)
            for widget in widgets[first:]:
                widget.source_id = message.id  # type: ignore[attr-defined]
        # A call whose result never came, followed by later messages, was cut by a quit.
        for row, position in pending.values():
            if position < len(messages) - 1 or messages[position].status in (
                "interrupted", "error", "truncated",
            ):  # fmt: skip
                row.set_result(NOT_RUN, True)
        return widgets

    def _widgets_of(
        self,
        message: StoredMessage,
        position: int,
        widgets: list[Widget],
        rows: dict[str, ToolCallRow],
        pending: dict[str, tuple[ToolCallRow, int]],
        undone: set[int],
    ) -> None:
        if message.role == "user":
            widget = UserMessage(message.text)
            widget.message_id = message.id
            widgets.append(widget)
        elif message.role == "assistant":
            thought = "".join(
                p.get("thinking", "") for p in message.parts if p.get("type") == "thinking"
            )
            if thought:
                widgets.append(ThinkingRow(thought))
            failure = next((p.get("text") for p in message.parts if p.get("type") == "error"), None)
            if message.text or (message.status != "complete" and failure is None):
                widgets.append(
                    AssistantMessage(message.text, message_id=message.id, status=message.status)
                )
            if failure:
                widgets.append(NoticeLine(f"✗ {failure}", "error"))
            for part in message.parts:
                if part.get("type") == "tool_use":
                    args = part.get("input") or {}
                    row = ToolCallRow(
                        part.get("id", ""),
                        str(args.get("command", "?")),
                        str(args.get("path", "")),
                    )
                    rows[part.get("id", "")] = row
                    pending[part.get("id", "")] = (row, position)
                    widgets.append(row)
        elif message.role == "tool":
            for part in message.parts:
                call_id = part.get("tool_use_id", "")
                done = rows.get(call_id)
                if done is not None:
                    pending.pop(call_id, None)
                    done.set_result(str(part.get("content", "")), bool(part.get("is_error")))
                    done.edit_id = part.get("edit_id")
                    if done.edit_id in undone:
                        done.set_undone(True)
