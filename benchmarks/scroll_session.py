"""Scrolls a long session to its first message, page by page, in a process of its own.

``python -m benchmarks.scroll_session SESSION_ID`` (with SCORECHAT_DB, SCORECHAT_HOME and
SCORECHAT_WORKSPACE set) prints JSON: the time of each older page (from reaching the top
until the page is laid out and drawn) and the process's RSS once at the first message.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def scroll(session_id: str, limit: int) -> dict[str, object]:
    from engine.settings import load_settings
    from tui.app import build_app
    from tui.widgets.conversation import Conversation

    app = build_app(load_settings(), session_id=session_id)
    pages: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        deadline = time.monotonic() + 60
        while app.chat_screen.opened_id != session_id:
            if time.monotonic() > deadline:
                raise SystemExit(f"session {session_id} did not open within 60 s")
            await pilot.pause(0.05)
        conversation = app.chat_screen.query_one(Conversation)
        await pilot.pause(0.2)
        opened_rss = rss_mib()
        while conversation.has_older and len(pages) < limit:
            oldest = conversation.oldest_id
            started = time.perf_counter()
            conversation.scroll_home(animate=False, immediate=True)
            waited = time.monotonic() + 20
            nudged = False
            while conversation.oldest_id == oldest and time.monotonic() < waited:
                await asyncio.sleep(0.001)
                if not nudged and time.perf_counter() - started > 0.2:
                    # Already at the top (the last page's scroll landed late): scroll
                    # up once more, as the wheel does there.
                    nudged = True
                    conversation.scroll_home(animate=False, immediate=True)
                    conversation.at_edge(-1)
            await pilot.pause()  # the page laid out and drawn
            if conversation.oldest_id == oldest:
                raise SystemExit(f"no older page loaded above message {oldest} within 20 s")
            pages.append((time.perf_counter() - started) * 1000)
        await pilot.pause(0.2)
        at_top = rss_mib()
        mounted = len(conversation.children)
    ordered = sorted(pages) or [0.0]
    return {
        "pages": len(pages),
        "page_p50_ms": statistics.median(ordered),
        "page_p95_ms": ordered[round(0.95 * (len(ordered) - 1))],
        "page_max_ms": ordered[-1],
        "rss_opened_mib": opened_rss,
        "rss_at_top_mib": at_top,
        "peak_rss_mib": rss_mib("VmHWM"),
        "widgets_mounted_at_top": mounted,
    }


def main() -> None:
    session_id = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    print(json.dumps(asyncio.run(scroll(session_id, limit))))


if __name__ == "__main__":
    main()
