"""The right pane: the session baseline against the file now, or the whole file."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from engine.agent import FileState


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def render_diff(diff: str) -> Text:
    """A unified diff with old/new line numbers and colour."""
    text = Text(no_wrap=True, overflow="ignore")
    old = new = 0
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        match = _HUNK.match(line)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            text.append(line + "\n", style="bold cyan")
            continue
        if line.startswith("\\"):
            text.append(line + "\n", style="dim italic")
        elif line.startswith("+"):
            text.append(f"{'':>4} {new:>4} ", style="dim")
            text.append(line + "\n", style="green")
            new += 1
        elif line.startswith("-"):
            text.append(f"{old:>4} {'':>4} ", style="dim")
            text.append(line + "\n", style="red")
            old += 1
        else:
            text.append(f"{old:>4} {new:>4} ", style="dim")
            text.append(line + "\n")
            old += 1
            new += 1
    return text


class DiffPane(VerticalScroll):
    """Shows a ``FileState``; ``mode`` toggles between the diff and the whole file."""

    mode: reactive[str] = reactive("diff", init=False)
    """``diff`` or ``file``."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.state: FileState | None = None
        """The file state last shown."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="diff-header")
        yield Static(id="diff-body")

    def on_mount(self) -> None:
        self.border_title = "Changes"
        self._redraw()

    def show(self, state: FileState | None) -> None:
        self.state = state
        self._redraw()

    def toggle(self) -> None:
        self.mode = "file" if self.mode == "diff" else "diff"

    def watch_mode(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        header = self.query_one("#diff-header", Static)
        body = self.query_one("#diff-body", Static)
        state = self.state
        self.border_title = "Changes" if self.mode == "diff" else "File"
        if state is None:
            header.update(Text("No score open.", style="dim"))
            body.update("")
            return
        self.border_subtitle = state.path
        if not state.exists:
            header.update(Text(f"{state.path} no longer exists.", style="bold red"))
            body.update("")
            return
        # A file that is not valid YAML says so first, in either view, until it is fixed.
        parts: list[RenderableType] = []
        if state.problem:
            parts.append(Text(f"✗ Not valid YAML: {state.problem}", style="bold red"))
        if self.mode == "file":
            parts.append(Text(f"{len((state.text or '').splitlines())} lines", style="dim"))
            header.update(Group(*parts))
            body.update(
                Syntax(
                    state.text or "", "yaml", line_numbers=True, word_wrap=False, theme="ansi_dark"
                )
            )
            return
        if not state.diff:
            parts.append(Text("No changes since the session started.", style="dim"))
            header.update(Group(*parts))
            body.update("")
            return
        from engine.diffing import diff_stat

        stat = diff_stat(state.diff)
        added, removed = stat.added, stat.removed
        # Key paths need both texts parsed: none can be named while the file is invalid.
        keys = state.key_paths or ([] if state.problem else ["(formatting only)"])
        label = "  changed keys:" if keys else ""
        parts.append(
            Text.assemble(("+" + str(added), "green"), " ", ("-" + str(removed), "red"), label)
        )
        for key in keys:
            parts.append(Text(f"  • {key}", style="yellow"))
        header.update(Group(*parts))
        body.update(render_diff(state.diff))
