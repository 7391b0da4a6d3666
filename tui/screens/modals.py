"""Small typed modal dialogs: confirm, ask for text, approve an edit, pick from a list, help.

Each is a ``Dialog``: a question, what answers it (``body``), a line naming the keys,
and its buttons (``buttons``), in that order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.widgets.diff_pane import render_diff

if TYPE_CHECKING:
    from engine.editor_tool import ProposedEdit

Answer = TypeVar("Answer")


class Dialog(ModalScreen[Answer]):
    """The frame every dialog shares: its question, its body, its keys, its buttons."""

    #: The classes of the frame ("dialog wide" for a dialog showing a diff or a list).
    FRAME = "dialog"
    FRAME_ID: str | None = None

    def __init__(self, question: str, keys: str) -> None:
        super().__init__()
        self.question = question
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.FRAME, id=self.FRAME_ID):
            yield Label(Text(self.question), classes="dialog-question")
            yield from self.body()
            yield Static(Text(self.keys, style="dim"))
            buttons = list(self.buttons())
            if buttons:
                with Horizontal(classes="dialog-buttons"):
                    yield from buttons

    def body(self) -> Iterator[Widget]:
        """What answers the question (nothing for a yes-or-no question)."""
        return iter(())

    def buttons(self) -> Iterator[Button]:
        """Its buttons, in a row under the keys line (none for a dialog answered by keys)."""
        return iter(())


def _diff_view(diff: str) -> VerticalScroll:
    return VerticalScroll(
        Static(render_diff(diff) if diff else Text("(no change)")), classes="approval-diff"
    )


class ConfirmModal(Dialog[bool]):
    """Yes or no; Enter/y confirms, Esc/n cancels."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

    def __init__(self, question: str, confirm_label: str = "Yes", keys: str = "") -> None:
        super().__init__(
            question,
            keys
            or f"y {confirm_label.lower()} · n or Esc cancel · Enter presses the highlighted button",
        )
        self.confirm_label = confirm_label

    def buttons(self) -> Iterator[Button]:
        yield Button(f"{self.confirm_label} (y)", variant="error", id="yes")
        yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class DiscardModal(ConfirmModal):
    """Shows what an action would throw away (a diff) and asks before doing it."""

    FRAME = "dialog wide"
    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "Keep the changes"),
        Binding("y", "dismiss(True)", "Undo anyway"),
    ]

    def __init__(self, question: str, diff: str) -> None:
        """``diff``: from the file now to what undoing makes it (made off the UI thread:
        a big file's takes a while)."""
        super().__init__(question, "Undo anyway", "y undo anyway · n or Esc keep the changes")
        self.diff = diff

    def body(self) -> Iterator[Widget]:
        yield _diff_view(self.diff)

    def buttons(self) -> Iterator[Button]:
        yield Button("Undo anyway (y)", variant="error", id="yes")
        yield Button("Keep the changes (n)", id="no")


class TextModal(Dialog[str | None]):
    """Ask for one line of text; Enter accepts, Esc cancels (``None``)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, question: str, value: str = "", placeholder: str = "", allow_empty: bool = False
    ) -> None:
        super().__init__(question, "Enter to accept · Esc to cancel")
        self.value = value
        self.placeholder = placeholder
        self.allow_empty = allow_empty

    def body(self) -> Iterator[Widget]:
        yield Input(self.value, placeholder=self.placeholder, id="answer")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value or self.allow_empty:
            self.dismiss(value)
        else:
            self.notify("Type something, or press Esc to cancel.", severity="warning")


@dataclass(frozen=True)
class Approval:
    apply: bool
    reason: str = ""


class ApprovalModal(Dialog[Approval]):
    """Shows a proposed edit's diff: apply it, or reject it with a reason for the model."""

    FRAME = "dialog wide"
    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("r", "reject", "Reject"),
        Binding("e", "reason", "Reason"),
        Binding("escape", "reject", "Reject"),
    ]

    def __init__(self, proposal: ProposedEdit, diff: str) -> None:
        """``diff``: the proposal's, made off the UI thread (``proposal_diff``)."""
        super().__init__(
            f"The assistant wants to {proposal.command} {proposal.path}",
            "a apply · r or Esc reject · e write a reason (Enter then rejects with it)",
        )
        self.proposal = proposal
        self.diff = diff

    def body(self) -> Iterator[Widget]:
        yield _diff_view(self.diff)
        yield Input(placeholder="Reason to reject (optional), sent to the assistant", id="reason")

    def buttons(self) -> Iterator[Button]:
        yield Button("Apply (a)", variant="success", id="apply")
        yield Button("Reject (r)", variant="error", id="reject")

    def on_mount(self) -> None:
        self.query_one("#apply", Button).focus()

    def action_apply(self) -> None:
        self.dismiss(Approval(True))

    def action_reason(self) -> None:
        self.query_one("#reason", Input).focus()

    def action_reject(self) -> None:
        self.dismiss(Approval(False, self.query_one("#reason", Input).value.strip()))

    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#reject")
    def _reject(self) -> None:
        self.action_reject()

    @on(Input.Submitted, "#reason")
    def _reason(self) -> None:
        self.action_reject()


class ChoiceModal(Dialog[str | None]):
    """Pick one of a list of (id, label) choices; Esc cancels."""

    FRAME = "dialog wide"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        title: str,
        choices: list[tuple[str, str]],
        hint: str = "",
        current: str | None = None,
    ) -> None:
        """``current``: the id of the choice in use, marked and highlighted at first."""
        super().__init__(title, hint or "Enter to choose · Esc to cancel")
        self.choices = choices
        self.current = current

    def body(self) -> Iterator[Widget]:
        if self.choices:
            options = OptionList(
                *[
                    Option(Text(label + ("  ● in use" if key == self.current else "")), id=key)
                    for key, label in self.choices
                ]
            )
            keys = [key for key, _ in self.choices]
            if self.current in keys:
                options.highlighted = keys.index(self.current)
            yield options
        else:
            yield Static(Text("Nothing to choose from.", style="dim"))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class RenderedOnce(Widget):
    """A Rich renderable laid out once per width: measuring its height and drawing it
    reuse the same lines (a Static renders a Rich table again for each, and the help
    table is measured several times while its dialog opens)."""

    DEFAULT_CSS = "RenderedOnce { height: auto; }"

    def __init__(self, renderable: RenderableType) -> None:
        super().__init__()
        self.renderable = renderable
        self._width = -1
        self._lines: list[Strip] = []

    def _lay_out(self, width: int) -> list[Strip]:
        if width != self._width:
            console = self.app.console
            options = console.options.update(width=width, max_width=width, height=None)
            rendered = console.render_lines(
                self.renderable, options, style=self.rich_style, pad=True
            )
            self._width, self._lines = width, [Strip(line, width) for line in rendered]
        return self._lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lay_out(width))

    def render_line(self, y: int) -> Strip:
        lines = self._lay_out(self.size.width)
        return lines[y] if y < len(lines) else Strip.blank(self.size.width, self.rich_style)


class HelpScreen(Dialog[None]):
    """Every key of the app and the chat screen."""

    FRAME = "dialog wide"
    FRAME_ID = "help"
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        """``rows``: (key, its action's name, what it does); the name may be empty."""
        super().__init__("scorechat keys", "Esc to close · ↑↓ PgUp PgDn scroll")
        self.rows = rows

    def body(self) -> Iterator[Widget]:
        # A grid, so that a long line wraps inside its own column.
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold cyan", no_wrap=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for key, name, what in self.rows:
            # Text, not markup: a path or a tooltip may hold brackets ("/copy [code]").
            table.add_row(Text(key), Text(name), Text(what))
        yield VerticalScroll(
            RenderedOnce(table),
            Static(
                Text(
                    "\nEvery action is also in the command palette (Ctrl+P). "
                    "Type in the prompt and press Enter to send; Shift+Enter or Ctrl+J adds a line; "
                    "Up/Down walk earlier prompts. In the prompt the usual editing keys keep "
                    "their meaning (Ctrl+Z undoes typing, Ctrl+A and Ctrl+E go to the line "
                    "start and end). A message sent while a reply streams is queued.",
                    style="dim",
                )
            ),
        )
