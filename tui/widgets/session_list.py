"""The left pane: the sessions of the open score, newest first.

A score used for months holds thousands of sessions. The pane draws only the rows on
screen (two lines each, the Line API), so holding 2,000 costs what holding 20 does, and a
refresh that finds nothing new changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.timefmt import count_label, relative_time
from tui.widgets import WidgetMessage

if TYPE_CHECKING:
    from engine.store import SessionRecord

#: Lines per session: its title, then when and how long.
ROW_HEIGHT = 2


class SessionList(ScrollView, can_focus=True):
    """Enter (or a click) resumes the highlighted session."""

    #: Its keys (none in the footer: the prompt's keys are shown there).
    KEYS = {
        "enter": "select", "up": "cursor(-1)", "down": "cursor(1)", "home": "jump(0)",
        "end": "jump(-1)", "pageup": "page(-1)", "pagedown": "page(1)",
    }  # fmt: skip
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, action, action.split("(")[0].capitalize(), show=False)
        for key, action in KEYS.items()
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "session-list--cursor",
        "session-list--meta",
        "session-list--current",
    }
    DEFAULT_CSS = """
    SessionList {
        background: transparent;
        scrollbar-size-vertical: 1;
    }
    SessionList > .session-list--cursor { background: $surface-lighten-1; }
    SessionList:focus > .session-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    SessionList > .session-list--meta { color: $text-muted; }
    SessionList > .session-list--current { color: $success; }
    """

    @dataclass
    class Resume(WidgetMessage):
        """The user chose a session to resume."""

        session_id: str

    index: reactive[int | None] = reactive(None, init=False)
    """The highlighted row."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sessions: list[SessionRecord] = []
        """The sessions shown."""
        self.current_id: str | None = None
        self._shown: tuple[object, ...] = ()
        self._rows: dict[tuple[int, int, bool], tuple[Strip, Strip]] = {}

    # ---- what is shown --------------------------------------------------------------------

    def show(self, sessions: list[SessionRecord], current_id: str | None) -> None:
        """Show ``sessions``; the open one (``current_id``) is marked and highlighted."""
        shown = (
            current_id,
            int(time.time() // 60),  # "5 min ago" moves on
            *((s.id, s.title, s.updated_at, s.message_count, s.status) for s in sessions),
        )
        if shown == self._shown:
            return
        self._shown = shown
        self.sessions = list(sessions)
        self.current_id = current_id
        self._rows.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(sessions) * ROW_HEIGHT)
        opened = next((i for i, s in enumerate(sessions) if s.id == current_id), None)
        if self.index is None or self.index >= len(sessions) or opened is not None:
            self.index = opened if opened is not None else (0 if sessions else None)
        self.refresh()
        self.call_after_refresh(self._reveal)

    def at_row(self, index: int) -> Region:
        """Where session ``index`` is drawn, in the pane's own coordinates (for clicks)."""
        return Region(0, index * ROW_HEIGHT - self.scroll_offset.y, self.size.width, ROW_HEIGHT)

    def watch_index(self, old: int | None, new: int | None) -> None:
        for row in (old, new):
            if row is not None:
                self._forget(row)
                self.refresh(self.at_row(row))
        self._reveal()

    def _reveal(self) -> None:
        """Scroll the highlighted row into view."""
        if self.index is not None:
            width = self.scrollable_content_region.width
            self.scroll_to_region(
                Region(0, self.index * ROW_HEIGHT, width, ROW_HEIGHT), animate=False, immediate=True
            )

    def _forget(self, row: int) -> None:
        for key in [k for k in self._rows if k[0] == row]:
            del self._rows[key]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rows.clear()

    def on_resize(self) -> None:
        self._rows.clear()
        self.virtual_size = Size(
            self.scrollable_content_region.width, len(self.sessions) * ROW_HEIGHT
        )

    # ---- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        line = y + self.scroll_offset.y
        row, part = divmod(line, ROW_HEIGHT)
        width = self.scrollable_content_region.width
        if row >= len(self.sessions) or width <= 0:
            return Strip.blank(width, self.rich_style)
        key = (row, width, self.has_focus)
        strips = self._rows.get(key)
        if strips is None:
            strips = self._rows[key] = self._draw(row, width)
        return strips[part]

    def _draw(self, row: int, width: int) -> tuple[Strip, Strip]:
        session = self.sessions[row]
        current = session.id == self.current_id
        base = self.rich_style
        if row == self.index:
            base += self.get_component_rich_style("session-list--cursor", partial=True)
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(" ")
        title.append(
            "● " if current else "  ",
            self.get_component_rich_style("session-list--current", partial=True),
        )
        title.append(session.title or "(untitled)", Style(bold=current))
        meta = Text(
            f"   {relative_time(session.updated_at)} · {count_label(session.message_count)}"
            + (" · ended" if session.status == "ended" else ""),
            style=self.get_component_rich_style("session-list--meta", partial=True),
            no_wrap=True,
            overflow="ellipsis",
            end="",
        )
        return self._strip(title, width, base), self._strip(meta, width, base)

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = [
            Segment(s.text, style + s.style if s.style else style)
            for s in text.render(self.app.console)
        ]
        return Strip(segments, width).crop(0, width)

    # ---- keys and the mouse ---------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        if self.sessions:
            start = self.index if self.index is not None else 0
            self.index = max(0, min(len(self.sessions) - 1, start + step))

    def action_jump(self, where: int) -> None:
        if self.sessions:
            self.index = where % len(self.sessions)
            self._reveal()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height // ROW_HEIGHT - 1, 1))

    def action_select(self) -> None:
        if self.index is not None and self.index < len(self.sessions):
            self.post_message(self.Resume(self, self.sessions[self.index].id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = (offset.y + self.scroll_offset.y) // ROW_HEIGHT
        if 0 <= row < len(self.sessions):
            self.index = row
            self.action_select()
