"""The score picker: fuzzy search over scorecards and scores."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine.workspace import ScoreRef, fuzzy_score_normalised, normalise
from tui.screens import move_highlight
from tui.timefmt import counted


def _normalised(refs: list[ScoreRef]) -> list[tuple[ScoreRef, tuple[str, ...]]]:
    return [
        (
            ref,
            tuple(
                n
                for n in (
                    normalise(ref.score),
                    normalise(f"{ref.scorecard} {ref.score}"),
                    normalise(ref.key or ""),
                )
                if n
            ),
        )
        for ref in refs
    ]


def filter_scores(
    refs: list[ScoreRef],
    query: str,
    limit: int = 200,
    *,
    index: list[tuple[ScoreRef, tuple[str, ...]]] | None = None,
) -> list[ScoreRef]:
    """Scores matching ``query`` on their name, ``scorecard name`` or key, best first.

    ``index`` (from ``_normalised``) saves normalising every name on every keystroke.
    """
    q = normalise(query)
    if not q:
        return refs[:limit]
    scored = []
    for position, (ref, names) in enumerate(index if index is not None else _normalised(refs)):
        best = None
        for name in names:
            score = fuzzy_score_normalised(q, name)
            if score is not None and (best is None or score > best):
                best = score
        if best is not None:
            scored.append((-best, position, ref))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [ref for _, _, ref in scored[:limit]]


class PickerScreen(ModalScreen[ScoreRef | None]):
    """Type to filter; Enter opens the highlighted score; Esc closes."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("down", "move(1)", "Next", show=False, priority=True),
        Binding("up", "move(-1)", "Previous", show=False, priority=True),
    ]

    def __init__(self, refs: list[ScoreRef], workspace_label: str = "") -> None:
        super().__init__()
        self.refs = refs
        self.workspace_label = workspace_label
        self.shown: list[ScoreRef] = []
        self._index = _normalised(refs)
        names = Counter((ref.scorecard, ref.score) for ref in refs)
        self._twins = {name for name, count in names.items() if count > 1}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="picker"):
            yield Label("Open a score", classes="dialog-question")
            yield Input(placeholder="Type to search scorecards and scores…", id="picker-query")
            yield OptionList(id="picker-list")
            yield Static(
                Text(
                    f"{len(self.refs)} scores in {self.workspace_label} · ↑↓ move · Enter open · Esc close",
                    style="dim",
                ),
                id="picker-hint",
            )

    def on_mount(self) -> None:
        self._refresh("")

    @on(Input.Changed, "#picker-query")
    def _changed(self, event: Input.Changed) -> None:
        self._refresh(event.value)

    def _refresh(self, query: str) -> None:
        self.shown = filter_scores(self.refs, query, index=self._index)
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        labels = []
        for ref in self.shown:
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(ref.scorecard, style="dim")
            label.append(" / ")
            label.append(ref.score, style="bold")
            if (ref.scorecard, ref.score) in self._twins:
                # Two files with one name: the file tells them apart.
                label.append(f"  ({ref.path.name})", style="yellow")
            label.append(f"  {ref.cls or '?'} · {counted(ref.lines, 'line')}", style="dim italic")
            labels.append(Option(label))
        options.add_options(labels)
        if self.shown:
            options.highlighted = 0

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one("#picker-list", OptionList), step)

    @on(Input.Submitted, "#picker-query")
    def _submitted(self) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.highlighted is not None and self.shown:
            self.dismiss(self.shown[options.highlighted])
        else:
            self.notify("No score matches.", severity="warning")

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index])
