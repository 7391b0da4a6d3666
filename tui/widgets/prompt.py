"""The multiline prompt: Enter sends, Shift+Enter or Ctrl+J adds a line, Up/Down walk history.

Every text-editing key keeps its TextArea meaning (Ctrl+Z undoes typing, Ctrl+A goes to
the line start, Ctrl+U deletes to it); PageUp/PageDown scroll the conversation; Tab
completes a slash command.

A paste the terminal does not bracket arrives as keys, each line ended by Enter. An
Enter sends only once the keys that came with it are handled, and one that came in a
burst of keys waits a moment for the rest of the burst: text right behind it makes it
a new line, so a pasted block stays one message in the prompt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TextArea

from tui.widgets import WidgetMessage

#: TextArea keys the chat screen takes for itself (F6 the diff or file view, F7 the
#: external editor). Left bound here, they would hold their place at the head of the
#: footer, under the screen's names, whenever the prompt has focus.
SCREEN_KEYS = frozenset({"f6", "f7"})


def _prompt_bindings() -> list[BindingType]:
    """TextArea's bindings, and its container's where TextArea binds nothing, less
    ``SCREEN_KEYS``: what the prompt would inherit, with those keys left to the screen."""
    own = list(Binding.make_bindings(TextArea.BINDINGS))
    taken = {binding.key for binding in own}
    inherited = Binding.make_bindings(ScrollableContainer.BINDINGS)
    return [
        *(binding for binding in inherited if binding.key not in taken),
        *(binding for binding in own if binding.key not in SCREEN_KEYS),
    ]


class _EnterPressed(Message):
    """Posted to the prompt itself by Enter: handled after every key queued before it."""

    bubble = False

    def __init__(self, press: int) -> None:
        super().__init__()
        self.press = press
        """Which Enter posted it: a later Enter makes it stale."""


#: Tab lists what each matching slash command does when this few match (their names
#: alone when more do: a list of every command would not fit a small terminal).
COMPLETIONS_DESCRIBED = 6
#: Keys a paste is made of: one of them right behind an Enter makes it a new line.
PASTED_KEYS = frozenset({"enter", "ctrl+j", "tab"})
#: A key read this soon after the key before it was not typed: it came in one burst
#: with it, as the keys of a paste do (seconds between the two keys' reading).
BURST_GAP = 0.005
#: How long an Enter inside a burst waits for the rest of it (the terminal's next read,
#: late on a loaded machine) before it sends. A person's next key comes later than this.
BURST_WAIT = 0.1


class PromptInput(TextArea, inherit_bindings=False):
    """A TextArea that sends on Enter and remembers what was sent."""

    BINDINGS = _prompt_bindings()

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
    }
    """

    @dataclass
    class Submitted(WidgetMessage):
        """The user pressed Enter with text in the prompt."""

        text: str

    @dataclass
    class Page(WidgetMessage):
        """PageUp/PageDown in the prompt: scroll the conversation (-1 up, 1 down)."""

        direction: int

    SLASH_COMMANDS: dict[str, str] = {}
    """Slash commands the prompt completes with Tab (name -> how it is typed and what it
    does, the line Tab lists for it); set by the screen."""

    def __init__(self, *, history: list[str] | None = None, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.prompt_history: list[str] = list(history or [])
        """Earlier prompts, oldest first."""
        self._history_index: int | None = None
        self._draft = ""
        self.last_key_at = 0.0
        """When a key last reached the prompt (``time.monotonic()``): a streaming reply
        waits while the person types, so that each key is drawn at once."""
        self.enter_pending = False
        """Enter was pressed and the text is not sent yet (see the module's docstring)."""
        self._enter_presses = 0
        self._enter_wait: Timer | None = None
        self._last_key_read = 0.0

    def set_history(self, history: list[str]) -> None:
        self.prompt_history = list(history)
        self._history_index = None

    async def _on_key(self, event: events.Key) -> None:
        self.last_key_at = time.monotonic()
        key = event.key
        in_burst = event.time - self._last_key_read < BURST_GAP
        self._last_key_read = event.time
        if self.enter_pending:
            if key in PASTED_KEYS or event.is_printable:
                self._hold_enter()  # pasted: the Enter was a line's end
                self.insert("\n")
                if key == "ctrl+j":  # the LF of a pasted CR LF: one line's end, not two
                    event.stop()
                    event.prevent_default()
                    return
            else:
                self._send()  # Esc, an arrow...: the message went first
        if key == "enter":
            event.stop()
            event.prevent_default()
            self.enter_pending = True
            self._enter_presses += 1
            settled = partial(self.post_message, _EnterPressed(self._enter_presses))
            if in_burst:
                self._enter_wait = self.set_timer(BURST_WAIT, settled)
            else:
                settled()
            return
        if key in ("pageup", "pagedown"):
            event.stop()
            event.prevent_default()
            self.post_message(self.Page(self, -1 if key == "pageup" else 1))
            return
        if key == "tab" and in_burst:
            # A tab inside a paste is text, as in a bracketed paste; typed, Tab moves on.
            event.stop()
            event.prevent_default()
            self.insert("\t")
            return
        if key == "tab" and self.text.startswith("/") and "\n" not in self.text:
            event.stop()
            event.prevent_default()
            self._complete()
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

    @on(_EnterPressed)
    def _enter_pressed(self, message: _EnterPressed) -> None:
        if self.enter_pending and message.press == self._enter_presses:
            self._send()

    def _hold_enter(self) -> None:
        """The pending Enter does not send (it was part of a paste)."""
        self.enter_pending = False
        if self._enter_wait is not None:
            self._enter_wait.stop()
            self._enter_wait = None

    def _send(self) -> None:
        """Send the text (when there is any): Enter with nothing pasted behind it."""
        self._hold_enter()
        self.last_key_at = 0.0  # sent: the person now waits for the reply, draw it
        text = self.text
        if text.strip():
            if not self.prompt_history or self.prompt_history[-1] != text:
                self.prompt_history.append(text)
            self._history_index = None
            self.post_message(self.Submitted(self, text))

    def _complete(self) -> None:
        """Complete a slash command: the one that fits (and say how it is used), or the
        list of those that do."""
        typed = self.text.strip().lower()
        matches = [name for name in self.SLASH_COMMANDS if name.startswith(typed)]
        if len(matches) == 1:
            self.load_text(matches[0] + " ")
            self.move_cursor(self.document.end)
            self.notify(self.SLASH_COMMANDS[matches[0]], title="Command", markup=False)
        elif matches:
            prefix = matches[0]
            for name in matches[1:]:
                while not name.startswith(prefix):
                    prefix = prefix[:-1]
            if len(prefix) > len(typed):
                self.load_text(prefix)
                self.move_cursor(self.document.end)
            if len(matches) <= COMPLETIONS_DESCRIBED:
                listed = "\n".join(self.SLASH_COMMANDS[name] for name in matches)
            else:
                listed = "  ".join(matches) + "\n(type more, then Tab; /help says what each does)"
            self.notify(listed, title="Commands", markup=False)
        else:
            self.notify("No command starts with that; /help lists them.", markup=False)

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
