"""Small typed modal dialogs: confirm, ask for text, approve an edit, pick from a list, help."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine.diffing import unified_diff
from engine.editor_tool import ProposedEdit
from tui.widgets.diff_pane import render_diff


class ConfirmModal(ModalScreen[bool]):
    """Yes or no; Enter/y confirms, Esc/n cancels."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

    def __init__(self, question: str, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-question")
            yield Static(
                Text(
                    f"y {self.confirm_label.lower()} · n or Esc cancel · "
                    "Enter presses the highlighted button",
                    style="dim",
                )
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class DiscardModal(ConfirmModal):
    """Shows what an action would throw away (a diff) and asks before doing it."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "Keep the changes"),
        Binding("y", "dismiss(True)", "Undo anyway"),
    ]

    def __init__(self, question: str, now: str, after: str, path: str) -> None:
        super().__init__(question, "Undo anyway")
        self.now = now
        self.after = after
        self.path = path

    def compose(self) -> ComposeResult:
        diff = unified_diff(self.now, self.after, self.path)
        with Vertical(classes="dialog wide"):
            yield Label(Text(self.question), classes="dialog-question")
            with VerticalScroll(classes="approval-diff"):
                yield Static(render_diff(diff) if diff else Text("(no change)"))
            yield Static(Text("y undo anyway · n or Esc keep the changes", style="dim"))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Undo anyway (y)", variant="error", id="yes")
                yield Button("Keep the changes (n)", id="no")


class TextModal(ModalScreen[str | None]):
    """Ask for one line of text; Enter accepts, Esc cancels (``None``)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, question: str, value: str = "", placeholder: str = "", allow_empty: bool = False
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-question")
            yield Input(self.value, placeholder=self.placeholder, id="answer")
            yield Static(Text("Enter to accept · Esc to cancel", style="dim"))

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


class ApprovalModal(ModalScreen[Approval]):
    """Shows a proposed edit's diff: apply it, or reject it with a reason for the model."""

    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("r", "reject", "Reject"),
        Binding("e", "reason", "Reason"),
        Binding("escape", "reject", "Reject"),
    ]

    def __init__(self, proposal: ProposedEdit) -> None:
        super().__init__()
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        diff = unified_diff(
            self.proposal.before or "", self.proposal.after or "", self.proposal.path
        )
        with Vertical(classes="dialog wide"):
            yield Label(
                Text(f"The assistant wants to {self.proposal.command} {self.proposal.path}"),
                classes="dialog-question",
            )
            with VerticalScroll(classes="approval-diff"):
                yield Static(render_diff(diff) if diff else Text("(no change)"))
            yield Input(
                placeholder="Reason to reject (optional), sent to the assistant", id="reason"
            )
            yield Static(
                Text(
                    "a apply · r or Esc reject · e write a reason (Enter then rejects with it)",
                    style="dim",
                )
            )
            with Horizontal(classes="dialog-buttons"):
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


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of a list of (id, label) choices; Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Text(self.title_text), classes="dialog-question")
            if self.choices:
                yield OptionList(*[Option(Text(label), id=key) for key, label in self.choices])
            else:
                yield Static(Text("Nothing to choose from.", style="dim"))
            yield Static(Text(self.hint or "Enter to choose · Esc to cancel", style="dim"))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class HelpScreen(ModalScreen[None]):
    """Every key of the app and the chat screen."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Text()
        for key, description in self.rows:
            table.append(f"{key:>14}  ", style="bold cyan")
            table.append(description + "\n")
        with Vertical(classes="dialog wide", id="help"):
            yield Label("scorechat keys", classes="dialog-question")
            with VerticalScroll():
                yield Static(table)
                yield Static(
                    Text(
                        "\nEvery action is also in the command palette (Ctrl+P). "
                        "Type in the prompt and press Enter to send; Shift+Enter or Ctrl+J adds a line; "
                        "Up/Down walk earlier prompts. In the prompt the usual editing keys keep "
                        "their meaning (Ctrl+Z undoes typing, Ctrl+A and Ctrl+E go to the line "
                        "start and end). A message sent while a reply streams is queued.",
                        style="dim",
                    )
                )
            yield Static(Text("Esc to close · ↑↓ PgUp PgDn scroll", style="dim"))
