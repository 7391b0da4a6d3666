"""The sessions browser: every session, full-text search, filters, resume, rename, delete, export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker

from engine.store import SearchHit, SessionRecord, Store
from tui.screens import move_highlight
from tui.timefmt import count_label, relative_time

#: A row of the list: a session, or a message a search found.
Row = SessionRecord | SearchHit
Answer = TypeVar("Answer")

PAGE = 100
MARK = ("\x02", "\x03")


def highlight(snippet: str) -> Text:
    """An FTS snippet with its match markers turned into a highlight."""
    text = Text()
    bold = False
    buffer = ""
    for char in " ".join(snippet.split()):
        if char in MARK:
            text.append(buffer, style="bold reverse" if bold else "")
            buffer = ""
            bold = char == MARK[0]
        else:
            buffer += char
    text.append(buffer, style="bold reverse" if bold else "")
    return text


@dataclass(frozen=True)
class BrowserResult:
    session_id: str
    message_id: int | None = None
    """The message a search hit found: the session opens on it, highlighted."""


class SessionsScreen(Screen[BrowserResult | None]):
    """Browse every session across scores."""

    # Rename, delete and export work while the search box has focus (priority); the
    # arrows move the list from the search box but stay the filters' own keys there.
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+r", "rename", "Rename", priority=True),
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+l", "more", "More", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, store: Store, scores: dict[str, list[str]]) -> None:
        super().__init__()
        self.store = store
        self.scores = scores
        """Score names by scorecard, for the filters."""
        self.scorecards = sorted(scores, key=str.lower)
        self.rows: list[SessionRecord | SearchHit] = []
        self.total = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="browser"):
            yield Label("Sessions", classes="screen-title")
            yield Input(placeholder="Search every message (words, prefixes)…", id="browser-query")
            with Horizontal(id="browser-filters"):
                yield Select(
                    [(c, c) for c in self.scorecards], prompt="All scorecards", id="browser-card"
                )
                yield Select([], prompt="All scores", id="browser-score")
                yield Select(
                    [("Active", "active"), ("Ended", "ended")],
                    prompt="Any status",
                    id="browser-status",
                )
            yield OptionList(id="browser-list")
            yield Static(id="browser-hint")
        yield Footer()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.worker_changed(event.worker)  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self.query_one("#browser-query", Input).focus()
        self.reload()

    def _filters(self) -> tuple[str | None, str | None, str | None]:
        values = [
            self.query_one(f"#browser-{name}", Select).value for name in ("card", "score", "status")
        ]
        card, score, status = (v if isinstance(v, str) else None for v in values)
        return card, score, status

    @on(Select.Changed, "#browser-card")
    def _card_changed(self, event: Select.Changed) -> None:
        card = event.value if isinstance(event.value, str) else None
        names = self.scores.get(card, []) if card else []
        self.query_one("#browser-score", Select).set_options([(n, n) for n in names])

    @on(Input.Changed, "#browser-query")
    @on(Select.Changed)
    def _changed(self) -> None:
        self.reload()

    @work(group="browser", exclusive=True, exit_on_error=False)
    async def reload(self, append: bool = False) -> None:
        query = self.query_one("#browser-query", Input).value.strip()
        card, score, status = self._filters()
        options = self.query_one("#browser-list", OptionList)
        if query:
            hits = await self.store.search(query, limit=200, mark=MARK)
            rows: list[SessionRecord | SearchHit] = [
                h
                for h in hits
                if (not card or h.scorecard == card) and (not score or h.score == score)
            ]
            self.total = len(rows)
        else:
            offset = len(self.rows) if append else 0
            sessions = await self.store.list_sessions(
                limit=PAGE, offset=offset, scorecard=card, score=score, status=status
            )
            self.total = await self.store.count_sessions(scorecard=card, score=score, status=status)
            rows = (self.rows if append else []) + list(sessions)
        self.rows = rows
        options.clear_options()
        options.add_options([Option(self._label(row)) for row in rows])
        if rows:
            options.highlighted = 0 if not append else options.highlighted
        hint = f"{len(rows)} of {self.total} " + ("matches" if query else "sessions")
        if not query and len(rows) < self.total:
            hint += " · Ctrl+L loads more"
        hint += " · Enter resume · Ctrl+R rename · Ctrl+D delete · Ctrl+E export · Esc back"
        self.query_one("#browser-hint", Static).update(Text(hint, style="dim"))

    @staticmethod
    def _label(row: SessionRecord | SearchHit) -> Text:
        text = Text()
        if isinstance(row, SearchHit):
            text.append(row.title or "(untitled)", style="bold")
            text.append(f"  {row.scorecard} / {row.score}  ", style="dim")
            text.append(f"{relative_time(row.created_at)}\n", style="dim")
            text.append(f"  {row.role}: ", style="italic")
            text.append_text(highlight(row.snippet))
            return text
        text.append(row.title or "(untitled)", style="bold")
        text.append(f"  {row.scorecard} / {row.score}", style="dim")
        text.append(
            f"  {relative_time(row.updated_at)} · {count_label(row.message_count)} · {row.status}",
            style="dim",
        )
        return text

    def _current(self) -> Row | None:
        index = self.query_one("#browser-list", OptionList).highlighted
        if index is None or index >= len(self.rows):
            return None
        return self.rows[index]

    @staticmethod
    def _session_id(row: Row) -> str:
        return row.session_id if isinstance(row, SearchHit) else row.id

    def action_move(self, step: int) -> None:
        at = move_highlight(self.query_one("#browser-list", OptionList), step)
        if step > 0 and at is not None and at == len(self.rows) - 1:
            self.action_more()

    def action_more(self) -> None:
        if (
            not self.query_one("#browser-query", Input).value.strip()
            and len(self.rows) < self.total
        ):
            self.reload(append=True)

    @on(Input.Submitted, "#browser-query")
    def _submitted(self) -> None:
        row = self._current()
        if row is not None:
            self._open(row)

    @on(OptionList.OptionSelected, "#browser-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._open(self.rows[event.option_index])

    def _open(self, row: Row) -> None:
        self.dismiss(BrowserResult(self._session_id(row), getattr(row, "message_id", None)))

    def action_close(self) -> None:
        self.dismiss(None)

    async def _ask(self, dialog: Callable[[Row], ModalScreen[Answer]]) -> tuple[str, Answer] | None:
        """The highlighted session's id and the answer ``dialog(row)`` got; ``None`` when
        no session is highlighted or the dialog was cancelled."""
        row = self._current()
        if row is None:
            return None
        answer = await self.app.push_screen_wait(dialog(row))
        return (self._session_id(row), answer) if answer else None

    def _done(self, sentence: str) -> None:
        self.notify(sentence)
        self.reload()

    @work(group="browser-action", exit_on_error=False)
    async def action_rename(self) -> None:
        from tui.screens.modals import TextModal

        asked = await self._ask(lambda row: TextModal("New title for the session:", row.title))
        if asked and asked[1]:
            await self.store.rename_session(asked[0], asked[1])
            self._done("Session renamed.")

    @work(group="browser-action", exit_on_error=False)
    async def action_delete(self) -> None:
        from tui.screens.modals import ConfirmModal

        asked = await self._ask(
            lambda row: ConfirmModal(
                f"Delete the session “{row.title or 'untitled'}” with all its messages? "
                "The score file is not changed.",
                "Delete",
            )
        )
        if asked:
            await self.store.delete_session(asked[0])
            self._done("Session deleted.")

    @work(group="browser-action", exit_on_error=False)
    async def action_export(self) -> None:
        row = self._current()
        if row is None:
            return
        export = getattr(self.app, "export_session", None)
        if export is not None:
            await export(self._session_id(row))
