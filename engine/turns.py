"""The turn core every front end without a screen uses: open a chat, run one turn, report.

``scorechat message`` prints the report (``TurnReport.to_dict()`` is its ``--json``
object, pinned by a test); a service worker returns the same object. The full-screen
app renders the same engine events itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.agent import ChatSession
from engine.editor_tool import Approver
from engine.errors import ScoreChatError, UsageError
from engine.events import (
    Event,
    FileChanged,
    Notice,
    Retrying,
    TextDelta,
    ToolResult,
    TurnCancelled,
    TurnFailed,
    Usage,
)
from engine.logs import get_logger
from engine.providers import Provider
from engine.settings import Settings
from engine.store import Store
from engine.workspace import ScoreRef, Workspace

log = get_logger("turns")

CANCELLED = "The turn was cancelled; the partial reply was kept."


@dataclass
class TurnReport:
    """What one turn did, in the shape of the ``message --json`` object."""

    message: str
    chat_id: str | None = None
    responses: list[dict[str, Any]] = field(default_factory=list)
    """``ai_message``, ``tool_result`` and ``error`` entries, in order."""
    changes: list[dict[str, Any]] = field(default_factory=list)
    """The file's diff against the session's start, with the changed key paths."""
    usage: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    """Retries and notices, one sentence each."""
    exit_code: int = 0
    """0 done, 1 failed, 130 cancelled (not part of the object)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id, "message": self.message, "responses": self.responses,
            "changes": self.changes, "usage": self.usage, "logs": self.logs,
        }  # fmt: skip

    def fail(self, sentence: str) -> TurnReport:
        self.responses.append({"type": "error", "content": sentence})
        self.exit_code = 1
        return self


async def open_chat(
    store: Store,
    workspace: Workspace,
    settings: Settings,
    provider: Provider | None,
    *,
    session_id: str | None = None,
    score: ScoreRef | None = None,
    approver: Approver | None = None,
    new_id: str | None = None,
) -> ChatSession:
    """A chat to continue (``session_id``) or a new one on ``score`` (with the id
    ``new_id`` when the caller chose it, as a service caller does)."""
    if session_id:
        existing = await store.find_session(session_id)
        other_entry = score is not None and score.entry is not None and (
            score.score != existing.score
        )  # fmt: skip
        if score is not None and (score.rel_path != existing.path or other_entry):
            raise UsageError(
                f"Session {existing.id} is about {existing.scorecard} / {existing.score}, "
                f"not {score.scorecard} / {score.score}."
            )
        return await ChatSession.resume(
            store=store, workspace=workspace, settings=settings, provider=provider,
            session_id=session_id, approver=approver,
        )  # fmt: skip
    if score is None:
        raise UsageError("Name the score of a new chat, or the session to continue.")
    return await ChatSession.start(
        store=store, workspace=workspace, settings=settings, provider=provider, score=score,
        approver=approver, session_id=new_id,
    )  # fmt: skip


async def run_turn(
    chat: ChatSession,
    text: str,
    *,
    on_event: Callable[[Event], None] | None = None,
    turn_key: str | None = None,
) -> TurnReport:
    """Run one turn to its report. ``on_event`` sees every event as it happens (to print
    the reply as it streams, or to report progress).

    Whatever fails after the turn began (a full disk, a lost database), the report is
    still returned, with the failure as its last ``error`` response.
    """
    report = TurnReport(message=text, chat_id=chat.id)
    pending: dict[int, list[str]] = {}

    def flush() -> None:
        for chunks in pending.values():
            content = "".join(chunks)
            if content.strip():
                report.responses.append({"type": "ai_message", "content": content})
        pending.clear()

    try:
        # Closed at once however the loop ends: should ``on_event`` raise, the turn stops
        # here, its reply kept as interrupted, while the store is still open.
        async with contextlib.aclosing(chat.send(text, turn_key=turn_key)) as events:
            try:
                async for event in events:
                    if on_event is not None:
                        on_event(event)
                    _record(event, report, pending, flush)
            finally:
                flush()
        if report.changes or any(r["type"] == "tool_result" for r in report.responses):
            state = await chat.file_state()
            report.changes = (
                [{"path": state.path, "diff": state.diff, "key_paths": state.key_paths}]
                if state.diff
                else []
            )
    except (ScoreChatError, OSError, sqlite3.Error) as exc:
        log.exception("the turn failed in session %s", chat.id)
        report.fail(_sentence(exc))
    return report


def _record(
    event: Event, report: TurnReport, pending: dict[int, list[str]], flush: Callable[[], None]
) -> None:
    match event:
        case TextDelta(text=chunk, message_id=message_id):
            pending.setdefault(message_id, []).append(chunk)
        case Retrying(attempt=attempt, wait=wait, reason=reason):
            # The failed attempt's text is not the reply: it must not appear twice.
            pending.clear()
            report.logs.append(f"Retrying (attempt {attempt}) in {wait:.1f}s: {reason}.")
        case ToolResult():
            flush()
            report.responses.append(
                {
                    "type": "tool_result", "tool": event.name, "command": event.command,
                    "input": event.input, "result": event.text, "is_error": event.is_error,
                }
            )  # fmt: skip
        case FileChanged(path=path, diff=diff, key_paths=key_paths):
            flush()
            report.changes = [{"path": path, "diff": diff, "key_paths": key_paths}]
        case Notice(text=notice):
            flush()
            report.logs.append(notice)
        case Usage():
            flush()
            report.usage = event.as_dict()
        case TurnFailed(message=sentence):
            flush()
            report.fail(sentence)
        case TurnCancelled():
            flush()
            report.responses.append({"type": "error", "content": CANCELLED})
            report.exit_code = 130
        case _:
            flush()


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, ScoreChatError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"The turn failed: {exc.strerror or exc}."
    return f"The database failed: {exc}."
