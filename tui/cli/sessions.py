"""``scorechat sessions list|show|search|rename|delete|export|end``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.errors import UsageError
from tui.cli.common import Group, print_json, print_rows, with_store
from tui.cli.options import JsonOption, SessionArgument
from tui.timefmt import relative_time

if TYPE_CHECKING:
    from engine.store import Edit, SessionRecord, Store
    from engine.store import StoredMessage as Message

app = Group(help="List, search, show, rename, delete, export and end sessions.")


@app.command("list")
def sessions_list(
    as_json: JsonOption = False,
    scorecard: Annotated[
        str | None, typer.Option("--scorecard", "-c", help="Only this scorecard (its full name).")
    ] = None,
    score: Annotated[
        str | None, typer.Option("--score", "-s", help="Only this score (its full name).")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or ended.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, max=10**9)] = 0,
) -> None:
    """List sessions, newest first."""
    if status not in (None, "active", "ended"):
        raise UsageError(f"Unknown status {status!r}: use active or ended.")

    rows = with_store(
        lambda store: store.list_sessions(
            limit=limit, offset=offset, scorecard=scorecard, score=score, status=status
        ),
        read_only=True,
    )
    if print_rows(
        rows, as_json, "No sessions yet. Start one with `scorechat` or `scorechat message`."
    ):
        return
    for s in rows:
        typer.echo(
            f"{s.id}  {relative_time(s.updated_at):>8}  {s.status:<6}  {s.message_count:>4} msgs  "
            f"{s.scorecard} / {s.score}  {s.title or '(untitled)'}"
        )


@app.command("show")
def sessions_show(session_id: SessionArgument, as_json: JsonOption = False) -> None:
    """Replay a session: every message, tool call and result."""
    from engine.export import session_to_dict, session_to_markdown

    session, messages, edits = _read_session(session_id)
    if as_json:
        print_json(session_to_dict(session, messages, edits))
    else:
        typer.echo(session_to_markdown(session, messages, edits), nl=False)


@app.command("search")
def sessions_search(
    query: Annotated[str, typer.Argument(help="Words to find in messages.")],
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
) -> None:
    """Full-text search over every message."""
    if not query.strip():
        raise UsageError("Give some words to search for.")

    # The terminal's own bold where there is one; plain text in a pipe.
    # JSON keeps Markdown's ** around the match, for other tools to render.
    bold = ("\x1b[1m", "\x1b[22m") if sys.stdout.isatty() else ("", "")
    mark = ("**", "**") if as_json else bold

    hits = with_store(lambda store: store.search(query, limit=limit, mark=mark), read_only=True)
    if print_rows(hits, as_json, f"No messages match {query!r}."):
        return
    for hit in hits:
        typer.echo(f"{hit.session_id}  {hit.scorecard} / {hit.score}  {hit.title}")
        typer.echo(f"    {hit.role}: {' '.join(hit.snippet.split())}")


@app.command("rename")
def sessions_rename(
    session_id: SessionArgument,
    title: Annotated[str, typer.Argument(metavar="TITLE", help="The new title.")],
) -> None:
    """Give a session a new title."""
    renamed = _change(session_id, lambda store, sid: store.rename_session(sid, title))
    typer.echo(f"Renamed session {renamed}.")


@app.command("delete")
def sessions_delete(
    session_id: SessionArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a session with its messages and edit history (score files are not touched)."""
    session = with_store(lambda store: store.find_session(session_id), read_only=True)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("Deleting needs confirmation: pass --yes.")
        typer.confirm(f"Delete session {session.id} ({session.title or 'untitled'})?", abort=True)

    with_store(lambda store: store.delete_session(session.id))
    typer.echo(f"Deleted session {session.id}.")


@app.command("export")
def sessions_export(
    session_id: SessionArgument,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Export a session as Markdown or JSON."""
    from engine.export import session_to_json, session_to_markdown, write_export

    if fmt not in ("md", "json"):
        raise UsageError(f"Unknown format {fmt!r}: use md or json.")

    render = session_to_markdown if fmt == "md" else session_to_json
    text = render(*_read_session(session_id))
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        write_export(output, text)
    except FileNotFoundError:
        raise UsageError(f"The folder {output.parent} does not exist.") from None
    typer.echo(f"Exported to {output}.")


@app.command("end")
def sessions_end(session_id: SessionArgument) -> None:
    """Mark a session ended (it can still be resumed later)."""
    ended = _change(session_id, lambda store, sid: store.set_session_status(sid, "ended"))
    typer.echo(f"Ended session {ended}.")


def _change(session_id: str, change: Callable[[Store, str], Awaitable[object]]) -> str:
    """``change(store, id)`` on the session an id (or a unique prefix) names; its full id."""

    async def go(store: Store) -> str:
        session = await store.find_session(session_id)
        await change(store, session.id)
        return session.id

    return with_store(go)


def _read_session(session_id: str) -> tuple[SessionRecord, list[Message], list[Edit]]:
    """A session with its messages and edits, read in one go."""

    async def read(store: Store) -> tuple[SessionRecord, list[Message], list[Edit]]:
        session = await store.find_session(session_id)
        return session, await store.messages(session.id), await store.edits(session.id)

    return with_store(read, read_only=True)
