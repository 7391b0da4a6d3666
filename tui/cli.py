"""The ``scorechat`` command line: opens the app, runs headless turns, manages sessions.

Every error a user can cause ends in one sentence on stderr and a non-zero exit:
1 for a failed operation, 2 for bad input. Heavy modules (textual, the SDKs) are
imported only by the commands that need them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

try:  # newer typer releases vendor click under typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer with the click package
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from engine.errors import ScoreChatError, UsageError
from engine.redact import redact
from engine.settings import Settings, load_settings
from tui.timefmt import relative_time

T = TypeVar("T")

app = typer.Typer(
    name="scorechat",
    help="Chat with an AI assistant to read and change call-centre QA score YAML.",
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
sessions_app = typer.Typer(help="List, search, show, rename, delete, export and end sessions.")
scores_app = typer.Typer(help="List and show the scores of the workspace.")
versions_app = typer.Typer(help="Save, list, show and restore versions of a score file.")
app.add_typer(sessions_app, name="sessions")
app.add_typer(scores_app, name="scores")
app.add_typer(versions_app, name="versions")


class Context:
    """What the global options set, shared by every command."""

    def __init__(self, **options: Any):
        self.options = options
        self._settings: Settings | None = None

    def settings(self, **overrides: Any) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                home=self.options.get("home"),
                workspace=self.options.get("workspace"),
                db_path=self.options.get("db"),
                provider=overrides.get("provider") or self.options.get("provider"),
                model=overrides.get("model") or self.options.get("model"),
                script=overrides.get("script") or self.options.get("script"),
                approval=self.options.get("approval"),
            )
        return self._settings


_CONTEXT: ContextVar[Context] = ContextVar("scorechat_cli_context")


def _ctx() -> Context:
    return _CONTEXT.get()


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"scorechat: {redact(message)}", err=True)
    return typer.Exit(code)


def handle_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Turn user-caused errors into one sentence and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except ScoreChatError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except (typer.Exit, click_exceptions.ClickException, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise fail("Interrupted.", 130) from None
        except BrokenPipeError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise fail(
                    "The database is busy: another scorechat holds it; try again in a moment.", 1
                ) from None
            raise fail(f"The database failed: {exc}.", 1) from None
        except Exception as exc:
            if os.environ.get("SCORECHAT_DEBUG"):
                raise
            raise fail(f"Unexpected error: {type(exc).__name__}: {exc}.", 1) from None

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _open_store(settings: Settings):  # type: ignore[no-untyped-def]
    from engine.store import Store

    return await Store.open(settings.db_path)


async def _read_store(settings: Settings):  # type: ignore[no-untyped-def]
    """The store for a command that only reads: works on a read-only data folder."""
    from engine.store import Store

    return await Store.open_read_only(settings.db_path)


def _print_json(data: Any) -> None:
    typer.echo(redact(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


# ---- global options and the app ------------------------------------------------------------


@app.callback()
def main_callback(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="SCORECHAT_WORKSPACE",
            help="Folder of <Scorecard>/<Score>.yaml files.",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="SCORECHAT_HOME",
            help="Keep the database, config and logs under this folder.",
        ),
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", envvar="SCORECHAT_DB", help="The SQLite database file.")
    ] = None,
    scorecard: Annotated[
        str | None, typer.Option("--scorecard", "-c", help="Open this scorecard.")
    ] = None,
    score: Annotated[
        str | None,
        typer.Option("--score", "-s", help="Open this score (name, key, id or a fragment)."),
    ] = None,
    session: Annotated[str | None, typer.Option("--session", help="Resume this session.")] = None,
    resume_latest: Annotated[
        bool,
        typer.Option(
            "--continue",
            help="Resume the latest session (of --score, when given) in this workspace.",
        ),
    ] = False,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider", "-p", envvar="SCORECHAT_PROVIDER", help="ollama, anthropic or scripted."
        ),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model to use.")] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script", envvar="SCORECHAT_SCRIPT", help="JSON script for --provider scripted."
        ),
    ] = None,
    approval: Annotated[
        str | None,
        typer.Option(
            "--approval", envvar="SCORECHAT_APPROVAL", help="auto (apply edits at once) or ask."
        ),
    ] = None,
) -> None:
    """Open the app, or run a subcommand (see COMMANDS below)."""
    if workspace is not None and not workspace.strip():
        raise fail("--workspace is empty: name the folder of <Scorecard>/<Score>.yaml files.", 2)
    ctx.obj = Context(
        workspace=workspace, home=home, db=db, provider=provider, model=model,
        script=script, approval=approval,
    )  # fmt: skip
    _CONTEXT.set(ctx.obj)
    if ctx.invoked_subcommand is None:
        _open_app(
            ctx.obj, scorecard=scorecard, score=score, session=session, resume_latest=resume_latest
        )


@handle_errors
def _open_app(
    context: Context,
    *,
    scorecard: str | None,
    score: str | None,
    session: str | None,
    resume_latest: bool = False,
) -> None:
    settings = context.settings()
    from engine.workspace import Workspace

    workspace = Workspace(settings.workspace)
    ref = None
    if score:
        ref = workspace.resolve_score(score, scorecard)
    elif scorecard:
        workspace.resolve_scorecard(scorecard)  # a bad name fails here, before the screen
    if resume_latest and not session:
        session = run(_latest_session(settings, workspace, ref))
    if session:
        run(_check_session(settings, session))
    if settings.provider == "scripted" and settings.script is None:
        raise UsageError("The scripted provider needs a script: pass --script FILE.")
    from tui.app import run_app

    code = run_app(settings, score=ref, scorecard=scorecard, session_id=session)
    if code:
        raise typer.Exit(code)


async def _latest_session(settings: Settings, workspace: Any, ref: Any) -> str:
    store = await _open_store(settings)
    try:
        latest = await store.list_sessions(
            limit=1, workspace=str(workspace.root), path=ref.rel_path if ref else None
        )
    finally:
        await store.close()
    if not latest:
        where = f"{ref.scorecard} / {ref.score}" if ref else str(workspace.root)
        raise UsageError(f"There is no session to continue for {where}; start one with scorechat.")
    return latest[0].id


async def _check_session(settings: Settings, session_id: str) -> None:
    store = await _open_store(settings)
    try:
        await store.find_session(session_id)
    finally:
        await store.close()


# ---- scores -----------------------------------------------------------------------------------


@scores_app.command("list")
@handle_errors
def scores_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    scorecard: Annotated[
        str | None, typer.Option("--scorecard", "-c", help="Only this scorecard.")
    ] = None,
) -> None:
    """List every score of the workspace."""
    from engine.workspace import Workspace

    workspace = Workspace(_ctx().settings().workspace)
    refs = workspace.scores()
    if scorecard:
        card = workspace.resolve_scorecard(scorecard)
        refs = [r for r in refs if r.scorecard == card]
    if as_json:
        _print_json([r.as_dict() for r in refs])
        return
    if not refs:
        typer.echo(f"No scores in {workspace.root}.")
        return
    width = max(len(r.scorecard) for r in refs)
    for ref in refs:
        typer.echo(f"{ref.scorecard:<{width}}  {ref.score}  [{ref.cls or '?'}, {ref.lines} lines]")


@scores_app.command("show")
@handle_errors
def scores_show(
    score: Annotated[str, typer.Argument(help="Name, key, id or a fragment of the score.")],
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
) -> None:
    """Print a score's YAML."""
    from engine.workspace import Workspace, read_text

    ref = Workspace(_ctx().settings().workspace).resolve_score(score, scorecard)
    typer.echo(read_text(ref.path), nl=False)


@app.command("check")
@handle_errors
def check(
    target: Annotated[
        str, typer.Argument(help="A score (name, key, id, fragment) or a path to a YAML file.")
    ],
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a score's YAML and shape: warnings exit 0, invalid YAML exits 1."""
    from engine.workspace import Workspace, check_text, read_text

    path = Path(target).expanduser()
    if not (target.endswith((".yaml", ".yml")) and path.is_file()):
        path = Workspace(_ctx().settings().workspace).resolve_score(target, scorecard).path
    result = check_text(read_text(path))
    if as_json:
        _print_json(
            {
                "path": str(path),
                "ok": result.ok,
                "error": str(result.error) if result.error else None,
                "warnings": result.warnings,
            }
        )
        if not result.ok:
            raise typer.Exit(1)
        return
    if result.error:
        raise fail(f"{path.name}: {result.error}", 1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}")
    count = len(result.warnings)
    typer.echo(
        f"{path.name}: valid YAML"
        + (f", {count} warning{'s' * (count != 1)}." if count else ", no warnings.")
    )


# ---- sessions ---------------------------------------------------------------------------------


@sessions_app.command("list")
@handle_errors
def sessions_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    score: Annotated[str | None, typer.Option("--score", "-s")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or ended.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
) -> None:
    """List sessions, newest first."""
    if status not in (None, "active", "ended"):
        raise UsageError(f"Unknown status {status!r}: use active or ended.")

    async def go() -> list[Any]:
        store = await _read_store(_ctx().settings())
        try:
            return await store.list_sessions(
                limit=limit, offset=offset, scorecard=scorecard, score=score, status=status
            )
        finally:
            await store.close()

    rows = run(go())
    if as_json:
        _print_json([s.as_dict() for s in rows])
        return
    if not rows:
        typer.echo("No sessions yet. Start one with `scorechat` or `scorechat message`.")
        return
    for s in rows:
        typer.echo(
            f"{s.id}  {relative_time(s.updated_at):>8}  {s.status:<6}  {s.message_count:>4} msgs  "
            f"{s.scorecard} / {s.score}  {s.title or '(untitled)'}"
        )


@sessions_app.command("show")
@handle_errors
def sessions_show(
    session_id: Annotated[str, typer.Argument(help="Session id (or a unique prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay a session: every message, tool call and result."""
    from engine.export import session_to_dict, session_to_markdown

    async def go() -> tuple[Any, Any, Any]:
        store = await _read_store(_ctx().settings())
        try:
            session = await store.find_session(session_id)
            return session, await store.messages(session.id), await store.edits(session.id)
        finally:
            await store.close()

    session, messages, edits = run(go())
    if as_json:
        _print_json(session_to_dict(session, messages, edits))
    else:
        typer.echo(session_to_markdown(session, messages, edits), nl=False)


@sessions_app.command("search")
@handle_errors
def sessions_search(
    query: Annotated[str, typer.Argument(help="Words to find in messages.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
) -> None:
    """Full-text search over every message."""
    if not query.strip():
        raise UsageError("Give some words to search for.")

    # The terminal's own bold where there is one; plain text in a pipe.
    # JSON keeps Markdown's ** around the match, for other tools to render.
    bold = ("\x1b[1m", "\x1b[22m") if sys.stdout.isatty() else ("", "")
    mark = ("**", "**") if as_json else bold

    async def go() -> list[Any]:
        store = await _read_store(_ctx().settings())
        try:
            return await store.search(query, limit=limit, mark=mark)
        finally:
            await store.close()

    hits = run(go())
    if as_json:
        _print_json([h.as_dict() for h in hits])
        return
    if not hits:
        typer.echo(f"No messages match {query!r}.")
        return
    for hit in hits:
        typer.echo(f"{hit.session_id}  {hit.scorecard} / {hit.score}  {hit.title}")
        typer.echo(f"    {hit.role}: {' '.join(hit.snippet.split())}")


@sessions_app.command("rename")
@handle_errors
def sessions_rename(session_id: str, title: str) -> None:
    """Give a session a new title."""

    async def go() -> str:
        store = await _open_store(_ctx().settings())
        try:
            session = await store.find_session(session_id)
            await store.rename_session(session.id, title)
            return session.id
        finally:
            await store.close()

    typer.echo(f"Renamed session {run(go())}.")


@sessions_app.command("delete")
@handle_errors
def sessions_delete(
    session_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a session with its messages and edit history (score files are not touched)."""

    async def find() -> Any:
        store = await _open_store(_ctx().settings())
        try:
            return await store.find_session(session_id)
        finally:
            await store.close()

    session = run(find())
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("Deleting needs confirmation: pass --yes.")
        typer.confirm(f"Delete session {session.id} ({session.title or 'untitled'})?", abort=True)

    async def go() -> None:
        store = await _open_store(_ctx().settings())
        try:
            await store.delete_session(session.id)
        finally:
            await store.close()

    run(go())
    typer.echo(f"Deleted session {session.id}.")


@sessions_app.command("export")
@handle_errors
def sessions_export(
    session_id: str,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Export a session as Markdown or JSON."""
    from engine.export import session_to_json, session_to_markdown
    from engine.workspace import atomic_write

    if fmt not in ("md", "json"):
        raise UsageError(f"Unknown format {fmt!r}: use md or json.")

    async def go() -> str:
        store = await _read_store(_ctx().settings())
        try:
            session = await store.find_session(session_id)
            messages, edits = await store.messages(session.id), await store.edits(session.id)
        finally:
            await store.close()
        render = session_to_markdown if fmt == "md" else session_to_json
        return render(session, messages, edits)

    text = run(go())
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.is_dir():
        raise UsageError(f"{output} is a folder; name a file to write.")
    try:
        atomic_write(output, text)
    except FileNotFoundError:
        raise UsageError(f"The folder {output.parent} does not exist.") from None
    typer.echo(f"Exported to {output}.")


@sessions_app.command("end")
@handle_errors
def sessions_end(session_id: str) -> None:
    """Mark a session ended (it can still be resumed later)."""

    async def go() -> str:
        store = await _open_store(_ctx().settings())
        try:
            session = await store.find_session(session_id)
            await store.set_session_status(session.id, "ended")
            return session.id
        finally:
            await store.close()

    typer.echo(f"Ended session {run(go())}.")


# ---- undo and versions ------------------------------------------------------------------------


@app.command("undo")
@handle_errors
def undo(
    session_id: Annotated[str, typer.Option("--session", help="The session whose edit to undo.")],
    all_edits: Annotated[
        bool, typer.Option("--all", help="Undo every edit of the session, on every file.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Undo the last edit of a session (or all of them); edits made elsewhere are never undone."""
    from engine.agent import UndoReport
    from engine.turns import open_chat
    from engine.workspace import Workspace

    said: list[str] = []

    async def go() -> UndoReport:
        settings = _ctx().settings()
        store = await _open_store(settings)
        try:
            chat = await open_chat(store, Workspace(settings.workspace), settings, None,
                                   session_id=session_id)  # fmt: skip
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
        finally:
            await store.close()

    report = run(go())
    if as_json:
        _print_json(report.as_dict())
    elif report.stopped is None:
        typer.echo(said[0] if said else report.text)
    if report.stopped is not None:
        raise fail(report.text, 1)


@app.command("redo")
@handle_errors
def redo(
    session_id: Annotated[str, typer.Option("--session", help="The session whose undo to redo.")],
) -> None:
    """Apply again the edit a session undid most recently."""
    from engine.turns import open_chat
    from engine.workspace import Workspace

    async def go() -> str:
        settings = _ctx().settings()
        store = await _open_store(settings)
        try:
            chat = await open_chat(store, Workspace(settings.workspace), settings, None,
                                   session_id=session_id)  # fmt: skip
            return (await chat.redo_edit()).text
        finally:
            await store.close()

    typer.echo(run(go()))


def _score_ref(score: str, scorecard: str | None) -> Any:
    from engine.workspace import Workspace

    return Workspace(_ctx().settings().workspace).resolve_score(score, scorecard)


@versions_app.command("save")
@handle_errors
def versions_save(
    score: str,
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    note: Annotated[str, typer.Option("--note", "-m", help="What this version is.")] = "",
    session_id: Annotated[str | None, typer.Option("--session")] = None,
) -> None:
    """Save the score file as it is now as a version."""
    from engine.versions import save_version
    from engine.workspace import Workspace

    ref = _score_ref(score, scorecard)

    async def go() -> int:
        settings = _ctx().settings()
        store = await _open_store(settings)
        try:
            sid = (await store.find_session(session_id)).id if session_id else None
            await save_version(
                store, Workspace(settings.workspace), ref.rel_path, note=note, session_id=sid
            )
            return len(await store.list_versions(ref.rel_path))
        finally:
            await store.close()

    number = run(go())
    typer.echo(f"Saved version {number} of {ref.scorecard} / {ref.score}.")


@versions_app.command("list")
@handle_errors
def versions_list(
    score: str,
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the saved versions of a score, newest first, numbered per score (1 = oldest)."""
    ref = _score_ref(score, scorecard)

    async def go() -> list[Any]:
        store = await _read_store(_ctx().settings())
        try:
            return await store.list_versions(ref.rel_path)
        finally:
            await store.close()

    versions = run(go())
    if as_json:
        _print_json([{**v.as_dict(), "number": len(versions) - i} for i, v in enumerate(versions)])
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


async def _find_version(store: Any, first: str, second: str | None, scorecard: str | None) -> Any:
    """``SCORE N`` (the score's N-th version, 1 = oldest), or a version's id alone."""
    if second is None:
        if not first.isdigit() or len(first) > 18:
            raise UsageError(
                f"Name the score and its version number (versions show SCORE N), not {first!r}."
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


@versions_app.command("show")
@handle_errors
def versions_show(
    score_or_id: VersionScore,
    number: VersionNumber = None,
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
) -> None:
    """Print the content of a saved version: `versions show "Sentiment Analysis" 1`."""

    async def go() -> Any:
        store = await _read_store(_ctx().settings())
        try:
            return await _find_version(store, score_or_id, number, scorecard)
        finally:
            await store.close()

    typer.echo(run(go()).content, nl=False)


@versions_app.command("restore")
@handle_errors
def versions_restore(
    score_or_id: VersionScore,
    number: VersionNumber = None,
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    session_id: Annotated[
        str | None, typer.Option("--session", help="Record the restore as an edit of this session.")
    ] = None,
) -> None:
    """Write a saved version back to its file (recorded as an edit, so it can be undone)."""
    from engine.versions import restore_version
    from engine.workspace import Workspace

    async def go() -> str:
        settings = _ctx().settings()
        store = await _open_store(settings)
        try:
            version = await _find_version(store, score_or_id, number, scorecard)
            sid = (await store.find_session(session_id)).id if session_id else None
            return await restore_version(
                store, Workspace(settings.workspace), version.id, session_id=sid
            )
        finally:
            await store.close()

    typer.echo(run(go()))


# ---- a headless turn ---------------------------------------------------------------------------


@app.command("message")
@handle_errors
def message(
    text: Annotated[str, typer.Argument(help="What to ask the assistant.")],
    scorecard: Annotated[str | None, typer.Option("--scorecard", "-c")] = None,
    score: Annotated[str | None, typer.Option("--score", "-s")] = None,
    session_id: Annotated[
        str | None, typer.Option("--session", help="Continue this session.")
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="ollama, anthropic or scripted.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    script: Annotated[
        Path | None, typer.Option("--script", help="JSON script for the scripted provider.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run one turn headless: the assistant answers and may edit the score."""
    from tui.headless import run_message

    if not text.strip():
        raise UsageError("The message is empty: give the text to send.")
    if not session_id and not score:
        raise UsageError(
            "Name the score with --score (and --scorecard), or continue one with --session."
        )
    settings = _ctx().settings(provider=provider, model=model, script=script)
    if provider and settings.provider != provider:
        settings = settings.with_overrides(provider=provider)
    code = run(
        run_message(
            settings, text, scorecard=scorecard, score=score, session_id=session_id,
            as_json=as_json, model=model,
        )
    )  # fmt: skip
    raise typer.Exit(code)


# ---- models and doctor -------------------------------------------------------------------------


@app.command("models")
@handle_errors
def models(
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="ollama or anthropic.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the models a provider offers."""
    from engine.providers import choose_provider, make_provider

    settings = _ctx().settings()

    async def go() -> tuple[str, list[str]]:
        chosen = make_provider(settings, provider) if provider else await choose_provider(settings)
        try:
            return chosen.name, await chosen.list_models()
        finally:
            await chosen.aclose()

    name, names = run(go())
    if as_json:
        _print_json({"provider": name, "models": names})
        return
    if not names:
        typer.echo(f"{name} offers no models.")
    for item in names:
        typer.echo(item)


@app.command("doctor")
@handle_errors
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check what scorechat needs: a model, the database and the workspace."""
    from tui.headless import run_doctor

    checks, can_answer = run(run_doctor(_ctx().settings()))
    if as_json:
        _print_json({"checks": checks, "model_available": can_answer})
    else:
        for check_ in checks:
            mark = "ok  " if check_["ok"] else ("--  " if check_.get("optional") else "FAIL")
            typer.echo(f"[{mark}] {check_['name']}: {check_['detail']}")
    failed = [c["name"] for c in checks if not c["ok"] and not c.get("optional")]
    if failed:
        raise fail(f"Doctor found problems with: {', '.join(failed)}.", 1)
    if not can_answer:
        raise fail(
            "No model can answer: start Ollama and pull a model, or set ANTHROPIC_API_KEY.", 1
        )


def main() -> None:
    """The console entry point: click usage errors become one sentence, exit 2."""
    try:
        rv = app(standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "scorechat"
        typer.echo(f"scorechat: {exc.format_message()} (see '{command} --help').", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("scorechat: Aborted.", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except ScoreChatError as exc:
        typer.echo(f"scorechat: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `scorechat ... | head`: the reader left; end quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
