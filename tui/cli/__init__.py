"""The ``scorechat`` command line: opens the app, runs headless turns, manages sessions.

Every error a user can cause ends in one sentence on stderr and a non-zero exit:
1 for a failed operation, 2 for bad input. Heavy modules (textual, the SDKs, celery)
are imported only by the commands that need them. One module per command group:
``sessions``, ``scores`` (and ``check``), ``versions`` (and ``undo``/``redo``), ``turn``
(``message``, ``models``, ``doctor``) and ``service`` (``worker``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.errors import ScoreChatError
from engine.redact import redact
from engine.settings import setting_help
from tui.cli import scores, service, sessions, turn, versions
from tui.cli.common import CONTEXT, ClickUsageError, Context, Group, fail, handle_errors
from tui.cli.options import ModelOption, ProviderOption, ScriptOption, place_option
from tui.launch import open_app, printable_output, silence

app = Group(
    name="scorechat",
    help="Chat with an AI assistant to read and change call-centre QA score YAML.",
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sessions.app, name="sessions")
app.add_typer(scores.app, name="scores")
app.add_typer(versions.app, name="versions")
for group in (scores, versions, turn, service):
    for name, command in group.COMMANDS.items():
        app.command(name)(command)


@app.callback()
def main_callback(
    ctx: typer.Context,
    workspace: Annotated[str | None, place_option("workspace", "-w")] = None,
    home: Annotated[Path | None, place_option("home")] = None,
    db: Annotated[str | None, place_option("database")] = None,
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
    provider: ProviderOption = None,
    model: ModelOption = None,
    script: ScriptOption = None,
    approval: Annotated[
        str | None, typer.Option("--approval", help=setting_help("approval"))
    ] = None,
) -> None:
    """Open the app, or run a subcommand (see COMMANDS below)."""
    try:
        ctx.obj = Context(
            workspace=workspace, home=home, db=db, provider=provider, model=model,
            script=script, approval=approval,
        )  # fmt: skip
    except ScoreChatError as exc:
        raise fail(str(exc), exc.exit_code) from None
    CONTEXT.set(ctx.obj)
    if ctx.invoked_subcommand is None:
        _open_app(
            ctx.obj, scorecard=scorecard, score=score, session=session, resume_latest=resume_latest
        )


@handle_errors
def _open_app(context: Context, **launch: Any) -> None:
    code = open_app(context, **launch)
    if code:
        raise typer.Exit(code)


def main(argv: list[str] | None = None) -> None:
    """The console entry point: click usage errors become one sentence, exit 2."""
    with printable_output():
        _main(argv)


def _main(argv: list[str] | None) -> None:
    try:
        rv = app(args=argv, standalone_mode=False)
    except ClickUsageError as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(ctx.get_help() if ctx else "", err=True)
            sys.exit(2)
        command = ctx.command_path if ctx else "scorechat"
        typer.echo(f"scorechat: {exc.format_message()} (see '{command} --help').", err=True)  # type: ignore[attr-defined]
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
        silence(sys.stdout)
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["app", "main"]
