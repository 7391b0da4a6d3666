"""The two tasks of the score chat API, registered on a Celery app.

A task never raises for what a caller sent: bad arguments, an unknown chat or score, a
model that cannot be reached, each come back as a result with ``error`` (one sentence).
Anything unforeseen is logged with its traceback and answered with one sentence too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from engine.logs import get_logger
from engine.service import end_session, error_result, handle_message
from engine.settings import Settings

log = get_logger("worker")

MESSAGE_TASK = "scorechat.message"
END_SESSION_TASK = "scorechat.end_session"


def register_tasks(app: Celery, settings: Settings) -> None:
    """Add ``scorechat.message`` and ``scorechat.end_session`` to ``app``."""

    @app.task(name=MESSAGE_TASK, bind=True)
    def message(self: Task, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args:
            return error_result(
                kwargs.get("chat_id"), kwargs.get("message"),
                "Send the message's arguments by name (kwargs), not by position.",
            )  # fmt: skip

        def progress(meta: dict[str, Any]) -> None:
            self.update_state(state="PROGRESS", meta=meta)

        try:
            return asyncio.run(
                handle_message(settings, kwargs, turn_key=self.request.id, progress=progress)
            )
        except SoftTimeLimitExceeded:
            return error_result(
                kwargs.get("chat_id"), kwargs.get("message"),
                "The task ran past its time limit and was stopped.",
            )  # fmt: skip
        except Exception as exc:
            log.exception("task %s failed", self.request.id)
            return error_result(
                kwargs.get("chat_id"), kwargs.get("message"),
                f"The message failed: {type(exc).__name__}: {exc}.",
            )  # fmt: skip

    @app.task(name=END_SESSION_TASK, bind=True)
    def end(self: Task, *args: Any, **kwargs: Any) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - {"chat_id"})
        if args or unknown:
            return {"chat_id": kwargs.get("chat_id"), "status": "error",
                    "message": "end_session takes one argument by name: chat_id."}  # fmt: skip
        try:
            return asyncio.run(end_session(settings, kwargs.get("chat_id")))
        except Exception as exc:
            log.exception("task %s failed", self.request.id)
            return {"chat_id": kwargs.get("chat_id"), "status": "error",
                    "message": f"Ending the chat failed: {type(exc).__name__}: {exc}."}  # fmt: skip
