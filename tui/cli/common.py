"""What every command shares: one way to open the store, one way to turn an error into
a sentence and an exit code, and JSON output (the options they share are in
``tui.cli.options``)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from engine.errors import ScoreChatError
from engine.redact import redact
from engine.settings import Settings
from tui.launch import Context, describe_error, open_store

if TYPE_CHECKING:
    from engine.store import Store

T = TypeVar("T")

#: Click's usage error, reached through typer's public ``BadParameter`` (its subclass),
#: so that no private module of typer is imported.
ClickUsageError: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError"
)
ClickException: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


CONTEXT: ContextVar[Context] = ContextVar("scorechat_cli_context")


def settings(**overrides: Any) -> Settings:
    """The settings of the running command."""
    return CONTEXT.get().settings(**overrides)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"scorechat: {redact(message)}", err=True)
    return typer.Exit(code)


def handle_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Turn user-caused errors into one sentence and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickException, BrokenPipeError):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            expected = isinstance(
                exc, ScoreChatError | KeyboardInterrupt | sqlite3.OperationalError
            )
            if os.environ.get("SCORECHAT_DEBUG") and not expected:
                raise
            message, code = describe_error(exc)
            raise fail(message, code) from None

    return wrapper


F = TypeVar("F", bound=Callable[..., Any])


class Group(typer.Typer):
    """A command group whose every command ends a user's error in one sentence and an
    exit code (``handle_errors``), so that no command can forget to."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(func: F) -> F:
            register(handle_errors(func))
            return func

        return decorator


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_store(use: Callable[[Store], Awaitable[T]], *, read_only: bool = False) -> T:
    """Open the store, ``await use(store)``, close it: what most commands do."""

    async def go() -> T:
        async with open_store(settings(), read_only=read_only) as store:
            return await use(store)

    return run(go())


def print_json(data: Any) -> None:
    typer.echo(redact(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


def print_rows(rows: Sequence[Any], as_json: bool, empty: str) -> bool:
    """The listing commands' first step: the rows as JSON, or ``empty`` when there are
    none. True when that was all there was to print."""
    if as_json:
        print_json([row.as_dict() for row in rows])
        return True
    if not rows:
        typer.echo(empty)
        return True
    return False
