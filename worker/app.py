"""The Celery application: JSON only, late acknowledgement, one message per process."""

from __future__ import annotations

from typing import Any

from celery import Celery

from engine.errors import ScoreChatError
from engine.redact import redact
from engine.settings import Settings

#: Seconds beyond the turn's own limit before Celery's soft limit fires (a backstop:
#: the turn cancels itself at ``task_time_limit``, as Esc does in the app).
SOFT_LIMIT_MARGIN = 30.0


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings every scorechat worker and client uses."""
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend or settings.broker_url,
        # JSON only: a pickled message is refused before it reaches a task.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # A worker killed mid-turn has its message delivered again (the turn's key makes
        # the second delivery continue the first, never duplicate it).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "task_soft_time_limit": settings.task_time_limit + SOFT_LIMIT_MARGIN,
        "task_time_limit": settings.task_time_limit + 2 * SOFT_LIMIT_MARGIN,
        "result_expires": 86_400,
        "broker_connection_retry_on_startup": True,
        "worker_send_task_events": False,
        # Redis: a message not acknowledged in this long goes back to the queue.
        "broker_transport_options": {"visibility_timeout": settings.task_time_limit * 3},
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
    }


def make_celery(settings: Settings, *, main: str = "scorechat") -> Celery:
    app = Celery(main)
    app.conf.update(celery_config(settings))
    return app


def check_broker(app: Celery, settings: Settings) -> None:
    """One sentence, at once, when the broker does not answer (Celery would retry)."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=3)
    except Exception as exc:  # kombu's connection errors differ by transport
        reason = redact(str(exc)).rstrip(". ")
        where = redact(settings.broker_url)
        raise ScoreChatError(f"The broker at {where} does not answer: {reason}.") from None
