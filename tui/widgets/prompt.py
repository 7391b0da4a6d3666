"""The multiline prompt: Enter sends, Shift+Enter or Ctrl+J adds a line, Up/Down walk history."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    """A TextArea that sends on Enter and remembers what was sent."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
    }
    """

    @dataclass
    class Submitted(Message):
        """The user pressed Enter with text in the prompt."""

        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, *, history: list[str] | None = None, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.prompt_history: list[str] = list(history or [])
        """Earlier prompts, oldest first."""
        self._history_index: int | None = None
        self._draft = ""

    def set_history(self, history: list[str]) -> None:
        self.prompt_history = list(history)
        self._history_index = None

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                if not self.prompt_history or self.prompt_history[-1] != text:
                    self.prompt_history.append(text)
                self._history_index = None
                self.post_message(self.Submitted(self, text))
            return
        if key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if key == "up" and self.cursor_location[0] == 0 and self.prompt_history:
            event.stop()
            event.prevent_default()
            self._walk(-1)
            return
        at_last_line = self.cursor_location[0] == self.document.line_count - 1
        if key == "down" and at_last_line and self._history_index is not None:
            event.stop()
            event.prevent_default()
            self._walk(1)
            return
        await super()._on_key(event)

    def _walk(self, step: int) -> None:
        if self._history_index is None:
            if step > 0:
                return
            self._draft = self.text
            index = len(self.prompt_history) - 1
        else:
            index = self._history_index + step
        if index < 0:
            index = 0
        if index >= len(self.prompt_history):
            self._history_index = None
            self.load_text(self._draft)
        else:
            self._history_index = index
            self.load_text(self.prompt_history[index])
        self.move_cursor(self.document.end)
