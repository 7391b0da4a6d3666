"""A client of the service: send one message through the broker and wait for its result
(``scorechat message --broker``). A caller needs only Celery and the broker URL."""

from __future__ import annotations

from typing import Any

from celery import Celery

from engine.errors import ScoreChatError
from engine.redact import redact
from engine.settings import Settings
from worker.app import celery_config, check_broker
from worker.tasks import END_SESSION_TASK, MESSAGE_TASK


def client_app(settings: Settings) -> Celery:
    app = Celery("scorechat-client")
    app.conf.update(celery_config(settings))
    return app


def send(
    settings: Settings, task: str, kwargs: dict[str, Any], *, ping_timeout: float = 1.5
) -> dict[str, Any]:
    """Send ``task`` and return its result; one sentence when nobody can answer."""
    app = client_app(settings)
    where = redact(settings.broker_url)
    check_broker(app, settings)
    try:
        answered = app.control.ping(timeout=ping_timeout, limit=1)
    except Exception as exc:  # kombu's connection errors differ by transport
        reason = redact(str(exc)).rstrip(". ")
        raise ScoreChatError(f"The broker at {where} does not answer: {reason}.") from None
    if not answered:
        raise ScoreChatError(
            f"No scorechat worker answers on the broker at {where}; start one with "
            "`scorechat worker`."
        )
    try:
        result = app.send_task(task, kwargs=kwargs)
        value = result.get(timeout=settings.task_time_limit + 120, propagate=False)
    except Exception as exc:
        raise ScoreChatError(f"The task did not complete: {redact(str(exc))}.") from None
    if not isinstance(value, dict):
        raise ScoreChatError(f"The worker answered with {type(value).__name__}, not a result.")
    return value


def send_message(settings: Settings, kwargs: dict[str, Any]) -> dict[str, Any]:
    return send(settings, MESSAGE_TASK, kwargs)


def end_chat(settings: Settings, chat_id: str) -> dict[str, Any]:
    return send(settings, END_SESSION_TASK, {"chat_id": chat_id})
