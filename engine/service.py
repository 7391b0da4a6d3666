"""The service API, free of any queue: what a ``scorechat.message`` or
``scorechat.end_session`` task does, given its keyword arguments.

The Celery worker (``worker/``) is a thin shell around these two coroutines; they take
plain values and return plain JSON-ready dicts (the ``message --json`` object), so any
other front end could serve the same API.

Every chat lives in the store, so any process on any host continues any chat. One chat
runs one turn at a time: each message takes a ticket in the store's queue and waits
until it holds the oldest live ticket of its chat (``ChatTurnLock``). The task's id is
the turn's key: stored with the user message, it makes a redelivered task continue its
own turn instead of storing the message twice, and a finished turn's result is kept
under it, so a task delivered again after it finished returns that result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ProviderError, ScoreChatError
from engine.events import Event, FileChanged, TextDelta, ToolCallStarted, ToolResult
from engine.logs import get_logger
from engine.redact import redact
from engine.settings import Settings
from engine.store import Store
from engine.turns import TurnReport, open_chat, run_turn
from engine.workspace import Workspace

log = get_logger("service")

#: The longest message a task accepts (characters).
MAX_MESSAGE_CHARS = 100_000
#: The longest name, id or key a task accepts.
MAX_NAME_CHARS = 200
#: How often a waiting or running turn proves its owner is alive (seconds).
HEARTBEAT_EVERY = 2.0
#: A ticket whose owner has not beaten for this long is passed over (seconds).
STALE_AFTER = 30.0
#: How often progress is reported while a reply streams (seconds).
PROGRESS_EVERY = 0.25

ProgressCallback = Callable[[dict[str, Any]], None]


def generate_chat_id() -> str:
    """A new chat's id, as the caller makes it: ``chat-<uuid4>``."""
    return f"chat-{uuid.uuid4()}"


def owner_id() -> str:
    """Who holds a ticket: host and process, so a dead process's ticket is seen at once
    on its own host (other hosts wait for its heartbeat to go stale)."""
    return f"{socket.gethostname()}|{os.getpid()}|{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str, heartbeat: float, *, stale_after: float = STALE_AFTER) -> bool:
    """True when the ticket's process is dead (same host) or silent for too long."""
    if time.time() - heartbeat > stale_after:
        return True
    host, _, rest = owner.partition("|")
    pid_text = rest.partition("|")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def error_result(chat_id: Any, message: Any, sentence: str) -> dict[str, Any]:
    """The result of a message that could not run: the ``message --json`` shape with one
    ``error`` response, and ``error`` itself (as the Plexus API returns it)."""
    echo = message if isinstance(message, str) else ""
    if len(echo) > 1000:
        echo = echo[:1000] + "…"
    sentence = redact(sentence)
    report = TurnReport(
        message=echo, chat_id=chat_id[:64] if isinstance(chat_id, str) else None
    ).fail(sentence)
    return {**report.to_dict(), "error": sentence}


def check_message_args(kwargs: dict[str, Any]) -> str | None:
    """One sentence saying what is wrong with a message task's arguments, or ``None``."""
    allowed = {"chat_id", "message", "scorecard", "score", "task_id"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        return (
            f"Unknown argument {redact(str(unknown[0]))[:60]!r}: send {', '.join(sorted(allowed))}."
        )
    chat_id = kwargs.get("chat_id")
    if not isinstance(chat_id, str) or not chat_id.strip():
        return "chat_id is required: make one with generate_chat_id()."
    if len(chat_id) > 64 or not all(c.isalnum() or c in "-_" for c in chat_id):
        return (
            "chat_id must be up to 64 letters, digits, '-' or '_' (generate_chat_id() makes one)."
        )
    message = kwargs.get("message")
    if not isinstance(message, str):
        return "message must be a string."
    if not message.strip():
        return "The message is empty: give the text to send."
    if len(message) > MAX_MESSAGE_CHARS:
        return f"The message is {len(message):,} characters; the limit is {MAX_MESSAGE_CHARS:,}."
    for name in ("scorecard", "score", "task_id"):
        value = kwargs.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string."
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            return f"{name} is longer than {MAX_NAME_CHARS} characters."
    return None


class ChatTurnLock:
    """One turn at a time per chat, whatever process or host runs it (a queue in the store).

    ``async with ChatTurnLock(store, chat_id, key):`` waits for the oldest live ticket of
    the chat to be this one; a background heartbeat keeps the ticket alive meanwhile.
    """

    def __init__(self, store: Store, chat_id: str, turn_key: str, *, poll: float = 0.1):
        self.store, self.chat_id, self.turn_key = store, chat_id, turn_key
        self.owner = owner_id()
        self.poll = poll
        self.waited = 0.0
        self._beat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ChatTurnLock:
        started = time.monotonic()
        await self.store.join_queue(self.chat_id, self.turn_key, self.owner)
        self._beat = asyncio.create_task(self._heartbeat())
        delay = self.poll
        while not await self.store.take_turn(self.chat_id, self.turn_key, stale=owner_is_gone):
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        self.waited = time.monotonic() - started
        return self

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            try:
                await self.store.join_queue(self.chat_id, self.turn_key, self.owner)
            except Exception:  # a busy database: the next beat tries again
                log.warning("heartbeat of %s failed", self.turn_key, exc_info=True)

    async def __aexit__(self, *exc: object) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        await self.store.leave_queue(self.turn_key)


@dataclass
class _Progress:
    """What a dashboard polling the task sees while the turn runs."""

    chat_id: str
    report: ProgressCallback | None
    reply: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    stage: str = "waiting"
    _last: float = 0.0

    def send(self, *, force: bool = False) -> None:
        if self.report is None:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        try:
            self.report(
                {
                    "chat_id": self.chat_id,
                    "stage": self.stage,
                    "reply": "".join(self.reply),
                    "tool_calls": list(self.tool_calls),
                    "files_changed": list(self.files_changed),
                }
            )
        except Exception:  # progress is a courtesy: a failing backend never fails the turn
            log.warning("progress report failed", exc_info=True)

    def on_event(self, event: Event) -> None:
        match event:
            case TextDelta(text=chunk):
                self.reply.append(chunk)
                self.send()
            case ToolCallStarted():
                self.tool_calls.append(
                    {"command": event.command, "path": event.path, "done": False}
                )
                self.send(force=True)
            case ToolResult():
                for call in reversed(self.tool_calls):
                    if not call["done"]:
                        call.update(done=True, is_error=event.is_error)
                        break
                self.send(force=True)
            case FileChanged(path=path):
                if path not in self.files_changed:
                    self.files_changed.append(path)
                self.send(force=True)


async def handle_message(
    settings: Settings,
    kwargs: dict[str, Any],
    *,
    turn_key: str | None = None,
    progress: ProgressCallback | None = None,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Run one message of the service API to its result (never raises for bad input).

    ``turn_key`` is the delivering task's id (the idempotency key); ``progress`` is
    called with the live state; after ``time_limit`` seconds the turn is cancelled as
    Esc cancels it in the app.
    """
    chat_id, text = kwargs.get("chat_id"), kwargs.get("message")
    problem = check_message_args(kwargs)
    if problem is not None:
        return error_result(chat_id, text, problem)
    assert isinstance(chat_id, str) and isinstance(text, str)
    key = turn_key or f"local-{uuid.uuid4()}"
    caller_task_id = kwargs.get("task_id")
    live = _Progress(chat_id, progress)
    live.send(force=True)
    try:
        workspace = Workspace(settings.workspace)
        store = await Store.open(settings.database)
    except ScoreChatError as exc:
        return error_result(chat_id, text, str(exc))
    try:
        async with ChatTurnLock(store, chat_id, key):
            stored = await store.turn_result(key)
            if stored is not None:
                log.info("task %s had finished: its stored result is returned", key)
                return stored
            live.stage = "running"
            live.send(force=True)
            result = await _run_message(
                store, workspace, settings, chat_id, text, kwargs, key, live, time_limit
            )
            if caller_task_id is not None:
                result["task_id"] = caller_task_id
            await store.save_turn_result(key, chat_id, result, caller_task_id)
            return result
    except ScoreChatError as exc:
        return error_result(chat_id, text, str(exc))
    finally:
        await store.close()


async def _run_message(
    store: Store,
    workspace: Workspace,
    settings: Settings,
    chat_id: str,
    text: str,
    kwargs: dict[str, Any],
    key: str,
    live: _Progress,
    time_limit: float | None,
) -> dict[str, Any]:
    existing = await store.get_session(chat_id)
    ref = None
    score, scorecard = kwargs.get("score"), kwargs.get("scorecard")
    if existing is None:
        if not score or not scorecard:
            return error_result(
                chat_id, text,
                f"No chat has the id {chat_id!r}: a new chat needs its scorecard and score.",
            )  # fmt: skip
        ref = workspace.resolve_score(score, scorecard)
    else:
        answered = await _answered_from_record(store, chat_id, text, key)
        if answered is not None:
            return answered
        if score:
            # Named again with a chat that exists: it must be that chat's score (a chat
            # is never moved to another one without a word); a score named without its
            # scorecard is looked for in the chat's own.
            ref = workspace.resolve_score(score, scorecard or existing.scorecard)
    try:
        from engine.providers import choose_provider

        provider = await choose_provider(settings)
    except ProviderError as exc:
        return error_result(chat_id, text, str(exc))
    timed_out = False
    try:
        chat = await open_chat(
            store, workspace, settings, provider,
            session_id=chat_id if existing is not None else None, score=ref,
            new_id=chat_id if existing is None else None,
        )  # fmt: skip

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            chat.cancel()

        limit = time_limit if time_limit is not None else settings.task_time_limit
        timer = asyncio.get_running_loop().call_later(limit, expire)
        try:
            report = await run_turn(chat, text, on_event=live.on_event, turn_key=key)
        finally:
            timer.cancel()
    finally:
        await provider.aclose()
    result = report.to_dict()
    if timed_out:
        sentence = (
            f"The turn took longer than the task's limit of {limit:g} s and was cancelled; "
            "the partial reply was kept."
        )
        for response in result["responses"]:
            if response["type"] == "error":
                response["content"] = sentence
        result["logs"].append(sentence)
    return result


async def _answered_from_record(
    store: Store, chat_id: str, text: str, key: str
) -> dict[str, Any] | None:
    """The result of a turn that finished but whose worker stopped before keeping the
    result: rebuilt from the record, so the message is answered once."""
    user_id = await store.message_for_turn(chat_id, key)
    if user_id is None:
        return None
    after = [m for m in await store.messages(chat_id) if m.id > user_id]
    if not after or after[-1].role != "assistant" or after[-1].status != "complete":
        return None
    if any(part.get("type") == "tool_use" for part in after[-1].parts):
        return None
    report = TurnReport(message=text, chat_id=chat_id)
    inputs: dict[str, Any] = {}
    for message in after:
        if message.role == "assistant" and message.text.strip():
            report.responses.append({"type": "ai_message", "content": message.text})
        for part in message.parts:
            if part.get("type") == "tool_use":
                inputs[str(part.get("id"))] = part.get("input") or {}
            elif part.get("type") == "tool_result":
                used = inputs.get(str(part.get("tool_use_id")), {})
                content = part.get("content")
                report.responses.append(
                    {"type": "tool_result", "tool": part.get("name") or "str_replace_editor",
                     "command": used.get("command"), "input": used,
                     "result": content if isinstance(content, str) else str(content),
                     "is_error": bool(part.get("is_error"))}
                )  # fmt: skip
    report.logs.append("This message had been answered by a worker that stopped; its answer.")
    return report.to_dict()


async def end_session(settings: Settings, chat_id: Any) -> dict[str, Any]:
    """Mark a chat ended (it is kept, and can be resumed): ``success``, ``warning`` when
    no chat has that id, or ``error`` with one sentence."""
    if not isinstance(chat_id, str) or not chat_id.strip() or len(chat_id) > 64:
        return {"chat_id": chat_id if isinstance(chat_id, str) else None, "status": "error",
                "message": "chat_id is required: the id the chat's messages were sent with."}  # fmt: skip
    try:
        async with await Store.open(settings.database) as store:
            record = await store.get_session(chat_id)
            if record is None:
                return {"chat_id": chat_id, "status": "warning",
                        "message": f"No chat has the id {chat_id!r}; nothing to end."}  # fmt: skip
            await store.set_session_status(record.id, "ended")
    except ScoreChatError as exc:
        return {"chat_id": chat_id, "status": "error", "message": str(exc)}
    return {
        "chat_id": chat_id,
        "status": "success",
        "message": f"Chat {chat_id} ended; it is kept.",
    }
