"""The app's screens, and what more than one of them needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widgets import OptionList


def move_highlight(options: OptionList, step: int) -> int | None:
    """Move a list's highlight by ``step``, kept inside the list (the arrows of a search
    box that drive the list below it). Returns the new index, ``None`` when empty."""
    if options.option_count == 0:
        return None
    current = options.highlighted or 0
    options.highlighted = max(0, min(options.option_count - 1, current + step))
    return options.highlighted
