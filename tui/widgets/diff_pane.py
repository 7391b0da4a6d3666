"""The right pane: the session baseline against the file now, or the whole file."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from engine.agent import FileState


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")

#: The most lines of a diff or a file the pane draws. Past it a note says how many are
#: left out: drawing all 100,000 lines of a rewritten 2.5 MB score kept the app busy
#: for minutes and took a gigabyte.
MAX_DRAWN_LINES = 2_000
#: The most changed key paths the header lists.
MAX_KEY_PATHS = 10


def render_diff(diff: str, max_lines: int = MAX_DRAWN_LINES) -> Text:
    """A unified diff with old/new line numbers and colour (its first ``max_lines``)."""
    text = Text(no_wrap=True, overflow="ignore")
    old = new = 0
    lines = diff.splitlines()
    if lines[:1] and lines[0].startswith("---") and lines[1:2] and lines[1].startswith("+++"):
        lines = lines[2:]
    left_out = max(len(lines) - max_lines, 0)
    lines = lines[:max_lines]
    for line in lines:
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
    if left_out:
        text.append(f"… {left_out:,} more lines of the diff are not drawn.\n", style="dim italic")
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
        self.border_subtitle = Content(state.path)  # a folder name is not markup
        if not state.exists:
            header.update(Text(f"{state.path} no longer exists.", style="bold red"))
            body.update("")
            return
        # A file that is not valid YAML says so first, in either view, until it is fixed.
        parts: list[RenderableType] = []
        if state.problem:
            parts.append(Text(f"✗ Not valid YAML: {state.problem}", style="bold red"))
        if self.mode == "file":
            lines = (state.text or "").splitlines(keepends=True)
            drawn = (
                f"; the first {MAX_DRAWN_LINES:,} are drawn" if len(lines) > MAX_DRAWN_LINES else ""
            )
            parts.append(Text(f"{len(lines):,} lines{drawn}", style="dim"))
            header.update(Group(*parts))
            shown = "".join(lines[:MAX_DRAWN_LINES])
            from rich.syntax import Syntax  # deferred: pygments is not needed for the first frame

            body.update(
                Syntax(shown, "yaml", line_numbers=True, word_wrap=False, theme="ansi_dark")
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
        for key in keys[:MAX_KEY_PATHS]:
            parts.append(Text(f"  • {key}", style="yellow"))
        if len(keys) > MAX_KEY_PATHS:
            parts.append(Text(f"  … and {len(keys) - MAX_KEY_PATHS:,} more", style="dim"))
        header.update(Group(*parts))
        body.update(render_diff(state.diff))
