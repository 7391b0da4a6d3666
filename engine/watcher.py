"""Notices changes to a score file made by other programs (watchfiles, debounced)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path


async def watch_file(
    path: Path, *, debounce_ms: int = 200, stop_event: asyncio.Event | None = None
) -> AsyncIterator[None]:
    """Yields once per burst of changes to ``path`` (its folder is watched, so renames count)."""
    from watchfiles import awatch

    target = path.resolve()
    folder = target.parent
    if not folder.is_dir():
        return
    async for changes in awatch(
        folder, debounce=debounce_ms, step=50, stop_event=stop_event, recursive=False
    ):
        if any(Path(changed).resolve() == target for _, changed in changes):
            yield None
