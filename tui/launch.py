"""The ``scorechat`` entry point: opening the app without loading the command line.

Plain ``scorechat [--score S] [--workspace W] ...`` is what people type most, and the
full command line (typer, which builds a pydantic validator per option) costs a
quarter of a second before the first frame. So when the arguments only open the app,
this reads them directly and opens it; anything else (a subcommand, ``--help``, an
unknown or odd option) goes to the full command line, which also gives every error
its usual sentence. The options read here are the main command's own
(``tui.cli.main_callback``), and a test checks that the two agree.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.errors import DATABASE_BUSY, ScoreChatError, UsageError, is_busy
from engine.logs import setup_logging
from engine.redact import redact
from engine.settings import PLACES, Settings, load_settings, prepare_workspace

if TYPE_CHECKING:
    from engine.store import Store

#: The main command's options that take a value: flag -> name.
VALUE_OPTIONS = {
    "--workspace": "workspace", "-w": "workspace",
    "--home": "home",
    "--db": "db",
    "--scorecard": "scorecard", "-c": "scorecard",
    "--score": "score", "-s": "score",
    "--session": "session",
    "--provider": "provider", "-p": "provider",
    "--model": "model", "-m": "model",
    "--script": "script",
    "--approval": "approval",
}  # fmt: skip
#: Its switches.
FLAG_OPTIONS = {"--continue": "resume_latest"}
#: Options also read from the environment when not given (as the command line reads them).
ENVIRONMENT = {str(place.flag).removeprefix("--"): place.env[0] for place in PLACES}
#: Options that name files.
PATHS = {"home", "script"}


class Context:
    """What the global options set, shared by every command."""

    def __init__(self, **options: Any):
        workspace = options.get("workspace")
        if workspace is not None and not workspace.strip():
            raise UsageError(
                "--workspace is empty: name the folder of <Scorecard>/<Score>.yaml files."
            )
        self.options = options
        self._settings: Settings | None = None

    def settings(self, **overrides: Any) -> Settings:
        """The settings (loaded once); on the first run the samples are copied here."""
        if self._settings is None:
            explicit = {
                name: overrides.get(name) or self.options.get(name)
                for name in ("provider", "model", "script", "approval", "broker_url")
            }
            self._settings = prepare_workspace(
                load_settings(
                    home=self.options.get("home"),
                    workspace=self.options.get("workspace"),
                    db_path=self.options.get("db"),
                    **{k: v for k, v in explicit.items() if v is not None},
                )
            )
            # What a command's engine logs (a failed turn's traceback) goes to the log
            # file, as the app's does, never to the terminal.
            setup_logging(self._settings.log_dir)
        return self._settings


def app_options(args: list[str]) -> dict[str, Any] | None:
    """The options of ``args`` when they only open the app, else ``None``."""
    options: dict[str, Any] = {}
    index = 0
    while index < len(args):
        token = args[index]
        name, _, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if token in FLAG_OPTIONS:
            options[FLAG_OPTIONS[token]] = True
        elif name in VALUE_OPTIONS:
            if not value:
                index += 1
                if index >= len(args) or args[index].startswith("-"):
                    return None  # a value the full command line should judge
                value = args[index]
            if VALUE_OPTIONS[name] in options:
                return None  # given twice
            options[VALUE_OPTIONS[name]] = value
        else:
            return None  # a subcommand, --help, or an option only the command line knows
        index += 1
    for name, variable in ENVIRONMENT.items():
        if name not in options and os.environ.get(variable):
            options[name] = os.environ[variable]
    for name in PATHS & options.keys():
        options[name] = Path(options[name])
    return options


def open_app(
    context: Context,
    *,
    scorecard: str | None = None,
    score: str | None = None,
    session: str | None = None,
    resume_latest: bool = False,
) -> int:
    """Check what was asked for (a bad score fails here, before the screen), then run
    the app; its exit code."""
    import asyncio

    settings = context.settings()
    from engine.workspace import Workspace

    workspace = Workspace(settings.workspace)
    ref = None
    if score:
        ref = workspace.resolve_score(score, scorecard)
    elif scorecard:
        workspace.resolve_scorecard(scorecard)
    if resume_latest and not session:
        session = asyncio.run(_latest_session(settings, workspace, ref))
    if session:
        asyncio.run(_check_session(settings, session))
    if settings.provider == "scripted" and settings.script is None:
        raise UsageError("The scripted provider needs a script: pass --script FILE.")
    from tui.app import run_app

    return run_app(settings, score=ref, scorecard=scorecard, session_id=session)


@asynccontextmanager
async def open_store(settings: Settings, *, read_only: bool = False) -> AsyncIterator[Store]:
    """The store, closed when the block ends. ``read_only`` for commands that only read:
    they work on a read-only data folder."""
    from engine.store import Store

    store = await (Store.open_read_only if read_only else Store.open)(settings.database)
    try:
        yield store
    finally:
        await store.close()


async def _latest_session(settings: Settings, workspace: Any, ref: Any) -> str:
    async with open_store(settings) as store:
        latest = await store.list_sessions(
            limit=1, workspace=str(workspace.root), path=ref.rel_path if ref else None
        )
    if not latest:
        where = f"{ref.scorecard} / {ref.score}" if ref else str(workspace.root)
        raise UsageError(f"There is no session to continue for {where}; start one with scorechat.")
    return latest[0].id


async def _check_session(settings: Settings, session_id: str) -> None:
    async with open_store(settings) as store:
        await store.find_session(session_id)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one sentence and exit code for an error a command did not expect to handle."""
    if isinstance(exc, ScoreChatError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted.", 130
    if isinstance(exc, sqlite3.OperationalError):
        if is_busy(exc):
            return DATABASE_BUSY, 1
        return f"The database failed: {exc}.", 1
    return f"Unexpected error: {type(exc).__name__}: {exc}.", 1


#: The characters a terminal acts on rather than shows (escape sequences, a bell, a
#: carriage return that overwrites the line): every control character but tab and newline;
#: bold on and off pass as they are (``sessions search`` marks its matches with them).
_CONTROL = re.compile("(\x1b\\[1m|\x1b\\[22m)|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character written out (``\\x1b``) instead of sent."""
    return _CONTROL.sub(_shown, text.replace("\r\n", "\n"))


def _shown(match: re.Match[str]) -> str:
    return match.group(1) or f"\\x{ord(match.group()):02x}"


class _TerminalText:
    """A text stream to a terminal that shows control characters instead of sending them:
    a score's name, a title or a model's reply can hold any, and must not retitle the
    window, write the clipboard or recolour the rest of the screen."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _streams(wrap: Callable[[TextIO], Any]) -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` replaced by ``wrap(stream)`` for the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = wrap(saved[0]), wrap(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def silence(stream: TextIO) -> None:
    """The reader of ``stream`` went away (``scorechat ... | head``): what it still
    buffers, and whatever is written to it later, goes nowhere instead of failing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def printable_output() -> contextlib.AbstractContextManager[None]:
    """While a command runs, what it prints on a terminal is shown, never interpreted
    (output to a file or a pipe is left exactly as it is)."""
    return _streams(
        lambda stream: _TerminalText(stream) if stream is not None and stream.isatty() else stream
    )


def own_output() -> contextlib.AbstractContextManager[None]:
    """The streams as they were, inside ``printable_output``: for a program that writes
    its own escape sequences (the worker's coloured log)."""
    return _streams(lambda stream: stream._stream if isinstance(stream, _TerminalText) else stream)


def main(argv: list[str] | None = None) -> None:
    """``scorechat``: the app at once when only its options are given, else the full
    command line."""
    args = sys.argv[1:] if argv is None else argv
    options = app_options(args)
    if options is None:
        from tui.cli import main as command_line

        command_line(args)
        return
    launch = {
        k: options.pop(k)
        for k in ("scorecard", "score", "session", "resume_latest")
        if k in options
    }
    try:
        code = open_app(Context(**options), **launch)
    except Exception as exc:
        if os.environ.get("SCORECHAT_DEBUG") and not isinstance(exc, ScoreChatError):
            raise
        message, code = describe_error(exc)
        with printable_output():
            print(f"scorechat: {redact(message)}", file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
