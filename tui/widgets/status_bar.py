"""One line at the bottom of the chat: provider, model, connection, tokens and cost."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    """

    provider: reactive[str] = reactive("")
    """The provider's name, or empty when none is connected."""
    model: reactive[str] = reactive("")
    """The model's name."""
    connection: reactive[str] = reactive("connecting")
    """``connecting``, ``ready``, ``working``, ``offline`` or ``no model``."""
    tokens_in: reactive[int] = reactive(0)
    """The session's input tokens."""
    tokens_out: reactive[int] = reactive(0)
    """The session's output tokens."""
    cost: reactive[float] = reactive(0.0)
    """The session's cost in USD (Anthropic only)."""
    approval: reactive[str] = reactive("auto")
    """The approval mode for edits."""
    cached: reactive[int] = reactive(0)
    """Prompt tokens the last turn read from the provider's cache."""
    context: reactive[float | None] = reactive(None)
    """How full the model's context was at the last request (0-1), when known."""

    def render(self) -> Text:
        colours = {"ready": "green", "working": "yellow", "connecting": "yellow"}
        text = Text()
        text.append("● ", style=colours.get(self.connection, "red"))
        if self.provider:
            label = f"{self.provider}" + (" (demo script)" if self.provider == "scripted" else "")
            text.append(f"{label} · {self.model}", style="bold")
        elif self.connection == "connecting":
            text.append("connecting…", style="bold")
        else:
            text.append("no model", style="bold red")
        if self.provider:
            text.append(f"  {self.connection}")
        text.append(f"  │ tokens {self.tokens_in:,} in / {self.tokens_out:,} out")
        if self.cached:
            text.append(f" ({self.cached:,} cached)", style="green")
        if self.cost:
            text.append(f"  │ ${self.cost:.4f}")
        if self.context is not None:
            style = "bold red" if self.context >= 0.9 else "yellow" if self.context >= 0.7 else ""
            text.append("  │ ")
            shown = "<1%" if 0 < self.context < 0.005 else f"{self.context:.0%}"
            text.append(f"context {shown}", style=style)
        text.append(f"  │ edits: {self.approval}")
        return text
