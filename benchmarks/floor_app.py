"""The start-up floor: a bare Textual app that draws one Static and answers F1.

``make bench`` launches it exactly as it launches scorechat, so the ratio of the two is
what scorechat adds to Textual's own start-up on this machine, in this run. With
``--input`` it also holds a focused Input: the floor of a key's echo.
"""

import sys

from textual.app import App, ComposeResult
from textual.widgets import Input, Static


class Floor(App[None]):
    BINDINGS = [("f1", "answer", "Answer"), ("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("Conversation floor", id="text")
        if "--input" in sys.argv:
            yield Input(placeholder="Ask anything")

    def action_answer(self) -> None:
        self.query_one("#text", Static).update("scorechat keys floor")


if __name__ == "__main__":
    Floor().run()
