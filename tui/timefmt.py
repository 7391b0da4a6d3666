"""How times and counts read in the app and the command line (no Textual import)."""

from __future__ import annotations

import time


def relative_time(ts: float, now: float | None = None) -> str:
    """``now``, ``5m ago``, ``3h ago``, ``2d ago``."""
    delta = max((now or time.time()) - ts, 0)
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= seconds:
            return f"{int(delta // seconds)}{unit} ago"
    return "now"


def count_label(count: int) -> str:
    return f"{count} msg" if count == 1 else f"{count} msgs"


def counted(count: int, noun: str) -> str:
    """``1 line``, ``2 lines``, ``12,000 lines``."""
    return f"{count:,} {noun}{'s' * (count != 1)}"
