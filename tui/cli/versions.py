"""``scorechat versions save|list|show|restore``, ``scorechat undo`` and ``scorechat redo``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.errors import ScoreChatError, UsageError
from tui.cli.common import Group, fail, print_json, settings, with_store
from tui.cli.options import JsonOption, ScoreArgument, ScorecardOption
from tui.timefmt import relative_time

if TYPE_CHECKING:
    from engine.agent import ChatSession, UndoReport
    from engine.store import Store, Version

app = Group(help="Save, list, show and restore versions of a score file.")


async def _open_session(store: Store, session_id: str) -> ChatSession:
    """An existing chat, through the engine's turn core (no model is needed to undo)."""
    from engine.turns import open_chat
    from engine.workspace import Workspace

    current = settings()
    return await open_chat(
        store, Workspace(current.workspace), current, None, session_id=session_id
    )


def undo(
    session_id: Annotated[str, typer.Option("--session", help="The session whose edit to undo.")],
    all_edits: Annotated[
        bool, typer.Option("--all", help="Undo every edit of the session, on every file.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Undo the last edit of a session (or all of them); edits made elsewhere are never undone."""
    from engine.agent import UndoReport

    said: list[str] = []

    async def go(store: Store) -> UndoReport:
        chat = await _open_session(store, session_id)
        if not await store.edits(chat.id, include_undone=False):
            raise UsageError(f"Session {chat.id} has no edits to undo.")
        if all_edits:
            return await chat.undo_all()
        try:
            result = await chat.undo_edit()
        except ScoreChatError as exc:
            return UndoReport(0, 1, str(exc))
        said.append(result.text)
        remaining = len(await store.edits(chat.id, include_undone=False))
        return UndoReport(1, remaining, None, [result.path or ""])

    report = with_store(go)
    if as_json:
        print_json(report.as_dict())
    elif report.stopped is None:
        typer.echo(said[0] if said else report.text)
    if report.stopped is not None:
        raise fail(report.text, 1)


def redo(
    session_id: Annotated[str, typer.Option("--session", help="The session whose undo to redo.")],
) -> None:
    """Apply again the edit a session undid most recently."""

    async def go(store: Store) -> str:
        chat = await _open_session(store, session_id)
        return (await chat.redo_edit()).text

    typer.echo(with_store(go))


def _score_ref(score: str, scorecard: str | None) -> Any:
    from engine.workspace import Workspace

    return Workspace(settings().workspace).resolve_score(score, scorecard)


@app.command("save")
def versions_save(
    score: ScoreArgument,
    scorecard: ScorecardOption = None,
    note: Annotated[str, typer.Option("--note", "-m", help="What this version is.")] = "",
    session_id: Annotated[str | None, typer.Option("--session")] = None,
) -> None:
    """Save the score file as it is now as a version."""
    from engine.versions import save_version
    from engine.workspace import Workspace

    ref = _score_ref(score, scorecard)

    async def go(store: Store) -> int:
        sid = (await store.find_session(session_id)).id if session_id else None
        await save_version(
            store, Workspace(settings().workspace), ref.rel_path, note=note, session_id=sid
        )
        return len(await store.list_versions(ref.rel_path))

    number = with_store(go)
    typer.echo(f"Saved version {number} of {ref.scorecard} / {ref.score}.")


@app.command("list")
def versions_list(
    score: ScoreArgument, scorecard: ScorecardOption = None, as_json: JsonOption = False
) -> None:
    """List the saved versions of a score, newest first, numbered per score (1 = oldest)."""
    ref = _score_ref(score, scorecard)

    versions = with_store(lambda store: store.list_versions(ref.rel_path), read_only=True)
    if as_json:
        print_json([{**v.as_dict(), "number": len(versions) - i} for i, v in enumerate(versions)])
        return
    if not versions:
        typer.echo(f"No saved versions of {ref.scorecard} / {ref.score}.")
        return
    for index, v in enumerate(versions):
        typer.echo(
            f"{len(versions) - index:>5}  {relative_time(v.created_at):>8}  {v.note or '(no note)'}"
        )


VersionScore = Annotated[str, typer.Argument(metavar="SCORE", help="The score (or a version id).")]
VersionNumber = Annotated[
    str | None, typer.Argument(metavar="N", help="The score's version number, 1 = oldest.")
]


async def _find_version(
    store: Store, first: str, second: str | None, scorecard: str | None, command: str
) -> Version:
    """``SCORE N`` (the score's N-th version, 1 = oldest), or a version's id alone;
    ``command`` (``show``, ``restore``) is named in what a mistake is told."""
    if second is None:
        if not first.isdigit() or len(first) > 18:
            raise UsageError(
                f"Name the score and its version number (versions {command} SCORE N), "
                f"not {first!r}."
            )
        version = await store.get_version(int(first))
        if version is None:
            raise UsageError(f"No version has the id {first}.")
        return version
    if not second.isdigit() or len(second) > 18 or int(second) < 1:
        raise UsageError(f"The version number must be a whole number from 1, not {second!r}.")
    ref = _score_ref(first, scorecard)
    versions = list(reversed(await store.list_versions(ref.rel_path)))
    number = int(second)
    if number > len(versions):
        count = len(versions)
        raise UsageError(
            f"{ref.scorecard} / {ref.score} has {count} saved version{'s' * (count != 1)}, "
            f"not {number}."
        )
    return versions[number - 1]


@app.command("show")
def versions_show(
    score_or_id: VersionScore, number: VersionNumber = None, scorecard: ScorecardOption = None
) -> None:
    """Print the content of a saved version: `versions show "Sentiment Analysis" 1`."""
    version = with_store(
        lambda store: _find_version(store, score_or_id, number, scorecard, "show"), read_only=True
    )
    typer.echo(version.content, nl=False)


@app.command("restore")
def versions_restore(
    score_or_id: VersionScore,
    number: VersionNumber = None,
    scorecard: ScorecardOption = None,
    session_id: Annotated[
        str | None, typer.Option("--session", help="Record the restore as an edit of this session.")
    ] = None,
) -> None:
    """Write a saved version back to its file (recorded as an edit, so it can be undone)."""
    from engine.versions import restore_version
    from engine.workspace import Workspace

    async def go(store: Store) -> str:
        version = await _find_version(store, score_or_id, number, scorecard, "restore")
        sid = (await store.find_session(session_id)).id if session_id else None
        return await restore_version(
            store, Workspace(settings().workspace), version.id, session_id=sid
        )

    typer.echo(with_store(go))


#: Top-level commands of this group.
COMMANDS = {"undo": undo, "redo": redo}
