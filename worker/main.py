"""Starting a worker: Celery's own prefork worker with scorechat's two tasks."""

from __future__ import annotations

import asyncio
import os

from engine.errors import ScoreChatError
from engine.logs import setup_logging
from engine.redact import redact
from engine.settings import Settings
from engine.store import Store
from worker.app import check_broker, make_celery
from worker.tasks import register_tasks


def build_app(settings: Settings):  # type: ignore[no-untyped-def]
    """A Celery app with the tasks registered, for ``settings``."""
    app = make_celery(settings)
    register_tasks(app, settings)
    return app


def preflight(app, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Fail at once, in one sentence, when the broker or the store cannot be used (rather
    than a worker that retries forever), and migrate the store before the pool forks."""
    check_broker(app, settings)

    async def open_store() -> None:
        store = await Store.open(settings.database)
        await store.close()

    asyncio.run(open_store())
    if not settings.workspace.is_dir():
        raise ScoreChatError(f"The workspace {settings.workspace} is not a folder.")


def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    queues: str | None = None,
    loglevel: str = "info",
    hostname: str | None = None,
) -> None:
    """Run a worker until it is stopped (Ctrl+C, SIGTERM: warm shutdown)."""
    log_path = setup_logging(settings.log_dir)
    app = build_app(settings)
    preflight(app, settings)
    argv = [
        "worker",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        f"--loglevel={loglevel}",
        "--pool=prefork",
        "-O",
        "fair",
        # Workers share nothing but the broker and the store: no need to talk to each other.
        "--without-mingle",
        "--without-gossip",
    ]
    if queues:
        argv.append(f"--queues={queues}")
    if hostname:
        argv += ["--hostname", hostname]
    print(
        f"scorechat worker: broker {redact(settings.broker_url)}, workspace {settings.workspace}, "
        f"database {settings.database_label}" + (f", log {log_path}" if log_path else ""),
        flush=True,
    )
    app.worker_main(argv)
