"""Control characters in what the app draws are shown, never sent to the terminal.

Rich and Textual drop only BEL, BS, VT, FF and CR from the text they draw. An escape
character in a score's name, a file, a session title or a model's reply would reach
the terminal and act there: retitle the window, write the clipboard (OSC 52), move
the cursor over what the person reads. Both libraries strip through one translation
table each; ``show_control_codes`` adds every other control character to them, drawn
as its visible symbol (``␛`` for ESC). Tab and newline keep their meaning.
"""

from __future__ import annotations

#: Drawn instead of each control character: the Unicode control pictures (U+2400...)
#: for C0 and DEL, the replacement character for C1.
SHOWN: dict[int, str] = {
    **{code: chr(0x2400 + code) for code in range(0x20) if code not in (7, 8, 9, 10, 11, 12, 13)},
    0x7F: "\u2421",
    **{code: "\ufffd" for code in range(0x80, 0xA0)},
}


def show_control_codes() -> None:
    """Make Rich's and Textual's text draw control characters as symbols (idempotent)."""
    from rich import control
    from textual import content

    for table in (control._CONTROL_STRIP_TRANSLATE, content._CONTROL_STRIP_TRANSLATE):
        table.update(SHOWN)  # type: ignore[arg-type]  # typed as mapping to None only
