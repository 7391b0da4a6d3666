"""Saving and restoring versions of a score file (a restore is an edit, so it can be undone)."""

from __future__ import annotations

import asyncio

from engine.editor_tool import write_lock
from engine.errors import NotFoundError
from engine.store import Store, Version
from engine.workspace import Workspace, atomic_write, read_text


async def save_version(
    store: Store,
    workspace: Workspace,
    rel_path: str,
    *,
    note: str = "",
    session_id: str | None = None,
) -> Version:
    path = workspace.resolve_path(rel_path, must_exist=True)
    ref = workspace.ref_for_path(path)
    content = await asyncio.to_thread(read_text, path)
    return await store.save_version(
        path=ref.rel_path, scorecard=ref.scorecard, score=ref.score, content=content,
        note=note, session_id=session_id,
    )  # fmt: skip


async def restore_version(
    store: Store, workspace: Workspace, version_id: int, *, session_id: str | None = None
) -> str:
    """Write version ``version_id`` back to its file; returns a sentence saying what happened."""
    version = await store.get_version(version_id)
    if version is None:
        raise NotFoundError(f"No version has the id {version_id}.")
    path = workspace.resolve_path(version.path)
    async with write_lock(store, workspace, version.path):
        before = await asyncio.to_thread(read_text, path) if path.exists() else None
        if before == version.content:
            return f"{version.path} already matches version {version.id}."
        await asyncio.to_thread(atomic_write, path, version.content)
        try:
            await store.record_edit(
                path=version.path, command="restore_version", before=before,
                after=version.content, tool_input={"version_id": version.id},
                session_id=session_id,
            )  # fmt: skip
        except BaseException:
            # No file change without its edit row: put the file back.
            if before is None:
                await asyncio.shield(asyncio.to_thread(path.unlink))
            else:
                await asyncio.shield(asyncio.to_thread(atomic_write, path, before))
            raise
    return f"Restored version {version.id} to {version.path}."
