"""``scorechat worker``: the service mode (Celery, an optional extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.errors import UsageError
from engine.settings import setting_help
from tui.cli.common import settings
from tui.launch import own_output

WORKER_EXTRA = "Service mode needs Celery: pip install 'scorechat[worker]'."
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def require_celery() -> None:
    """One sentence, not an ImportError, when the worker extra is not installed."""
    try:
        import celery  # noqa: F401
    except ImportError:
        raise UsageError(WORKER_EXTRA) from None


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", "-c", min=1, max=256, help="Worker processes (default: cores)."
        ),
    ] = None,
    broker: Annotated[str | None, typer.Option("--broker", help=setting_help("broker_url"))] = None,
    queues: Annotated[
        str | None, typer.Option("--queues", "-Q", help="Queues to consume (default: celery).")
    ] = None,
    loglevel: Annotated[
        str, typer.Option("--loglevel", "-l", help="debug, info, warning, error.")
    ] = "info",
    hostname: Annotated[
        str | None, typer.Option("--hostname", "-n", help="This worker's name, e.g. w1@hostA.")
    ] = None,
) -> None:
    """Serve scorechat.message and scorechat.end_session from a Celery broker."""
    if loglevel.lower() not in LOG_LEVELS:
        raise UsageError(f"Unknown log level {loglevel!r}: use one of {', '.join(LOG_LEVELS)}.")
    if queues is not None and not all(q.strip() for q in queues.split(",")):
        raise UsageError("--queues names one or more queues, separated by commas.")
    require_celery()
    current = settings(broker_url=broker)
    from worker.main import run_worker

    with own_output():  # Celery colours its own log
        run_worker(
            current,
            concurrency=concurrency,
            queues=queues,
            loglevel=loglevel.lower(),
            hostname=hostname,
        )


#: Top-level commands of this group.
COMMANDS = {"worker": worker}
