"""The left pane: the sessions of the open score, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import ListItem, ListView, Static

from tui.timefmt import count_label, relative_time

if TYPE_CHECKING:
    from engine.store import SessionRecord


class SessionItem(ListItem):
    def __init__(self, session: SessionRecord, current: bool) -> None:
        self.session = session
        title = session.title or "(untitled)"
        label = Text(overflow="ellipsis", no_wrap=True)
        label.append("● " if current else "  ", style="green")
        label.append(title, style="bold" if current else "")
        meta = Text(
            f"  {relative_time(session.updated_at)} · {count_label(session.message_count)}"
            + (" · ended" if session.status == "ended" else ""),
            style="dim",
        )
        super().__init__(Static(label), Static(meta))


class SessionList(ListView):
    """Enter resumes the highlighted session."""

    @dataclass
    class Resume(Message):
        """The user chose a session to resume."""

        session_list: SessionList
        session_id: str

        @property
        def control(self) -> SessionList:
            return self.session_list

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sessions: list[SessionRecord] = []
        """The sessions shown."""

    async def show(self, sessions: list[SessionRecord], current_id: str | None) -> None:
        self.sessions = sessions
        await self.clear()
        await self.extend([SessionItem(s, s.id == current_id) for s in sessions])
        for index, session in enumerate(sessions):
            if session.id == current_id:
                self.index = index

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        item = event.item
        if isinstance(item, SessionItem):
            self.post_message(self.Resume(self, item.session.id))
