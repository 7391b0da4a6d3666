"""One conversation about one score: history, prompt, provider, tool loop and events.

``ChatSession.send(text)`` runs one turn and yields the typed events of
``engine.events``. The user message is saved before the model is called; assistant
text is saved while it streams; tool calls and results are saved as message parts so
that a resumed session replays into the provider's own format.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.diffing import changed_key_paths, unified_diff
from engine.editor_tool import Approver, EditError, EditorTool
from engine.editor_tool import EditResult as EditorResult
from engine.errors import NotFoundError, ProviderError, ScoreChatError, UsageError
from engine.events import (
    Event,
    FileChanged,
    Notice,
    Retrying,
    TextDelta,
    ThinkingDelta,
    ToolCallStarted,
    ToolResult,
    TurnCancelled,
    TurnDone,
    TurnFailed,
    TurnStarted,
    Usage,
)
from engine.history import build_history
from engine.logs import get_logger
from engine.prompts import build_system_prompt
from engine.providers import HOW_TO_CONNECT, Provider, TransientError
from engine.providers import base as stream
from engine.settings import Settings
from engine.store import SessionRecord, Store
from engine.workspace import ScoreRef, Workspace, read_text
from engine.yaml_text import yaml_problem

#: Tool names the engine accepts: the Ollama function name and Anthropic's native ones.
EDITOR_NAMES = frozenset({"str_replace_editor", "str_replace_based_edit_tool"})
#: How often streamed text is written to the database.
PERSIST_INTERVAL = 0.25
#: The most tool calls one reply may have run: the rest are answered "not run", so a
#: model that emits hundreds of calls cannot make hundreds of writes, nor a next
#: request too big to send.
MAX_CALLS_PER_REPLY = 25
#: How full the context may get before the user is warned.
CONTEXT_WARNING = 0.9
#: Stop reasons that mean the model was cut off rather than finished.
CUT_OFF_REASONS = {
    "max_tokens": "the reply was cut off at the token limit",
    "length": "the reply was cut off at the token limit",
    "model_context_window_exceeded": "the reply was cut off: the conversation filled the "
    "model's context window",
    "refusal": "the model declined to answer this request",
}

log = get_logger("agent")


@dataclass
class UndoReport:
    """What undoing a whole session did: how many edits, and why it stopped, if it did."""

    undone: int = 0
    remaining: int = 0
    """Edits of the session still applied (not undone) afterwards."""
    stopped: str | None = None
    """Why it stopped before undoing everything (one sentence), or ``None``."""
    paths: list[str] = field(default_factory=list)
    """Every file an undone edit touched, in the order they were undone."""

    @property
    def text(self) -> str:
        count = f"{self.undone} edit{'s' * (self.undone != 1)}"
        if self.stopped is None:
            return f"Undid {count}" + (f" of {', '.join(self.paths)}." if self.paths else ".")
        return f"Undid {count}, then stopped with {self.remaining} left: {self.stopped}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "undone": self.undone, "remaining": self.remaining, "stopped": self.stopped,
            "paths": self.paths, "message": self.text,
        }  # fmt: skip


def make_title(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass
class FileState:
    """The score file compared with the session's baseline."""

    path: str
    exists: bool
    text: str | None
    diff: str
    key_paths: list[str] = field(default_factory=list)
    problem: str | None = None
    """Why the file is not valid YAML now (``None`` when it is, or is missing)."""


@dataclass
class _Round:
    message_id: int
    text: list[str] = field(default_factory=list)
    calls: list[stream.ToolCall] = field(default_factory=list)
    thinking: list[stream.ThinkingBlock] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    stop: str = "end_turn"

    def joined(self) -> str:
        return "".join(self.text)


class ChatSession:
    """A conversation about one score file. Build with ``start`` or ``resume``."""

    def __init__(
        self,
        *,
        store: Store,
        workspace: Workspace,
        settings: Settings,
        provider: Provider | None,
        record: SessionRecord,
        approver: Approver | None = None,
    ):
        self.store = store
        self.workspace = workspace
        self.settings = settings
        self.provider = provider
        self.record = record
        self.tool = EditorTool(
            workspace.root,
            store,
            session_id=record.id,
            max_chars=settings.view_max_chars,
            approver=approver,
        )
        self._task: asyncio.Task[Any] | None = None
        self._context_tokens = 0
        self._system: str | None = None

    # ---- construction ----------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        *,
        store: Store,
        workspace: Workspace,
        settings: Settings,
        provider: Provider | None,
        score: ScoreRef,
        approver: Approver | None = None,
        session_id: str | None = None,
    ) -> ChatSession:
        baseline = await asyncio.to_thread(read_text, score.path)
        record = await store.create_session(
            scorecard=score.scorecard,
            score=score.score,
            path=score.rel_path,
            baseline=baseline,
            provider=provider.name if provider else None,
            model=provider.model if provider else None,
            workspace=str(workspace.root),
            session_id=session_id,
        )
        return cls(
            store=store, workspace=workspace, settings=settings, provider=provider,
            record=record, approver=approver,
        )  # fmt: skip

    @classmethod
    async def resume(
        cls,
        *,
        store: Store,
        workspace: Workspace,
        settings: Settings,
        provider: Provider | None,
        session_id: str,
        approver: Approver | None = None,
    ) -> ChatSession:
        record = await store.find_session(session_id)
        if record.workspace and Path(record.workspace) != workspace.root:
            raise UsageError(
                f"Session {record.id} belongs to the workspace {record.workspace}, not "
                f"{workspace.root}; open it there (--workspace) so it edits its own file."
            )
        # A reply left 'partial' was cut by a crash or a kill: keep it, marked interrupted.
        await store.mark_partial_messages(record.id)
        if record.status != "active":
            await store.set_session_status(record.id, "active")
        if provider is not None and (record.provider, record.model) != (
            provider.name,
            provider.model,
        ):
            await store.update_session(record.id, provider=provider.name, model=provider.model)
        record = await store.get_session(record.id) or record
        return cls(
            store=store, workspace=workspace, settings=settings, provider=provider,
            record=record, approver=approver,
        )  # fmt: skip

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def path(self) -> Path:
        return self.workspace.root / self.record.path

    async def refresh(self) -> SessionRecord:
        self.record = await self.store.get_session(self.record.id) or self.record
        return self.record

    def set_provider(self, provider: Provider | None) -> None:
        self.provider = provider

    async def file_state(self) -> FileState:
        """The file now and its diff against the session baseline."""
        try:
            text: str | None = await asyncio.to_thread(read_text, self.path)
        except NotFoundError:
            text = None
        baseline = self.record.baseline or ""
        now = text if text is not None else ""
        diff = await asyncio.to_thread(unified_diff, baseline, now, self.record.path)
        if diff:
            paths = await asyncio.to_thread(changed_key_paths, baseline, now)
        else:
            paths = []
        # Parsed off the event loop (cached: the first edit re-parses only what it changes).
        problem = await asyncio.to_thread(yaml_problem, text) if text is not None else None
        return FileState(self.record.path, text is not None, text, diff, paths, problem)

    async def _file_changed(self, result: EditorResult) -> FileChanged:
        """The diff after an edit; never fails the turn (the edit is already recorded)."""
        try:
            state = await self.file_state()
            return FileChanged(
                result.path or self.record.path, state.diff, state.key_paths, result.edit_id
            )
        except Exception:
            log.exception("could not compute the diff after edit %s", result.edit_id)
            return FileChanged(result.path or self.record.path, "", [], result.edit_id)

    # ---- undo ------------------------------------------------------------------------

    async def undo_last(self) -> EditorResult:
        """Undo the newest edit of this session's file (an error result when there is none)."""
        return await self.tool.run({"command": "undo_edit", "path": self.record.path})

    async def undo_edit(self, *, force: bool = False) -> EditorResult:
        """Undo this session's newest applied edit, whatever file it touched.

        Raises ``EditError`` (``ChangedSinceError`` when the file changed after the edit;
        ``force`` then undoes it anyway and records what was discarded).
        """
        applied = await self.store.edits(self.id, include_undone=False)
        if not applied:
            raise EditError("This session has no edits to undo.")
        newest = applied[-1]
        path = self.workspace.resolve_path(newest.path)
        return await self.tool.undo(path, newest.path, session_id=self.id, force=force)

    async def redo_edit(self) -> EditorResult:
        """Apply again the edit this session undid most recently."""
        undone = [e for e in await self.store.edits(self.id) if e.undone]
        if not undone:
            raise EditError("This session has no undone edit to redo.")
        rel = max(undone, key=lambda e: e.id).path
        return await self.tool.redo(self.workspace.resolve_path(rel), rel, session_id=self.id)

    async def undo_all(self) -> UndoReport:
        """Undo every edit this session made, on every file it touched, newest first.

        Stops at the first edit that cannot be undone (the file changed since, say) and
        says how many were undone and why it stopped.
        """
        report = UndoReport()
        for edit in reversed(await self.store.edits(self.id, include_undone=False)):
            try:
                path = self.workspace.resolve_path(edit.path)
                await self.tool.undo(path, edit.path, session_id=self.id)
            except ScoreChatError as exc:
                report.stopped = str(exc)
                break
            report.undone += 1
            if edit.path not in report.paths:
                report.paths.append(edit.path)
        report.remaining = len(await self.store.edits(self.id, include_undone=False))
        return report

    # ---- a turn ----------------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the running turn; its partial text is kept, marked interrupted."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            return True
        return False

    @staticmethod
    async def settle_cancelled(events: AsyncGenerator[Event, None]) -> Event | None:
        """Finish a turn whose consumer was cancelled between two events.

        ``cancel`` cancels the task iterating ``send``; when that task was busy drawing
        an event rather than waiting inside ``send``, the cancellation never reaches the
        turn. This delivers it there, so the partial reply is saved as interrupted, and
        returns the ``TurnCancelled`` event (``None`` if the turn had not begun streaming).
        """
        try:
            return await events.athrow(asyncio.CancelledError())
        except (StopAsyncIteration, asyncio.CancelledError):
            return None

    async def send(self, text: str, *, turn_key: str | None = None) -> AsyncGenerator[Event, None]:
        """Run one turn for the user's ``text``; yields events until a final one.

        Whatever fails, the turn ends with one final event and the record stays whole:
        every tool result of a call that ran is stored, even when something after the
        write raises. ``turn_key`` (a service task's id) is stored with the user message:
        when a message with that key is already stored, the turn it began is continued
        from the record instead of storing the message again.
        """
        self._task = asyncio.current_task()
        text = text.strip()
        if not text:
            yield TurnFailed("The message is empty: type something to send.")
            return
        resumed = False
        try:
            existing = await self.store.message_for_turn(self.id, turn_key) if turn_key else None
            if existing is not None:
                user_id, resumed = existing, True
            else:
                snapshot = await self._file_snapshot()
                user_id = await self.store.add_message(
                    self.id, "user", text, parts=[snapshot], turn_key=turn_key
                )
            if not self.record.title:
                await self.store.update_session(self.id, title=make_title(text))
            await self.refresh()
        except ScoreChatError as exc:
            yield TurnFailed(str(exc))
            return
        log.info("turn started in session %s (%d characters)", self.id, len(text))
        yield TurnStarted(self.id, user_id, text)
        if resumed:
            yield Notice("This message's turn was begun by a worker that stopped; continued here.")
        if self.provider is None:
            await self._save_failed(None, HOW_TO_CONNECT)
            yield TurnFailed(HOW_TO_CONNECT)
            return
        current: _Round | None = None
        all_text: list[str] = []
        ids: list[int] = []
        usage_in = usage_out = 0
        cached = [0, 0]  # tokens read from and written to the provider's prompt cache
        try:
            history = await self._history()
            warned = False
            window = self.provider.context_window if self.provider else None
            if window is None:
                # Learns the window (Ollama's /api/show). A server slow to answer here is
                # not yet a failure: the round below asks again, with its retries.
                with contextlib.suppress(TransientError):
                    await self.provider.prepare()
                window = self.provider.context_window
            estimate = (len(await self._system_prompt()) + len(json.dumps(history))) // 4
            if window and estimate >= CONTEXT_WARNING * window:
                warned = True
                yield Notice(
                    f"This conversation is about {estimate:,} tokens, near or over the model's "
                    f"{window:,}-token context: the model may not see all of it. Start a new "
                    "session, raise OLLAMA_NUM_CTX, or choose a model with a larger context."
                )
            failures: dict[str, int] = {}
            rounds = 0
            finished = False
            while rounds < self.settings.max_tool_rounds + 1:
                rounds += 1
                message_id = await self.store.add_message(
                    self.id, "assistant", "", status="partial"
                )
                ids.append(message_id)
                current = _Round(message_id)
                self.tool.message_id = message_id
                async for event in self._stream_round(history, current):
                    yield event
                usage_in += current.input_tokens
                usage_out += current.output_tokens
                cached[0] += current.cache_read
                cached[1] += current.cache_write
                self._context_tokens = current.input_tokens or self._context_tokens
                window = self.provider.context_window if self.provider else None
                if window and not warned and self._context_tokens >= CONTEXT_WARNING * window:
                    warned = True
                    yield Notice(
                        f"The conversation fills {self._context_tokens / window:.0%} of the "
                        f"model's {window:,}-token context: the model may lose the start of it. "
                        "Start a new session for a fresh context, or choose a model with a "
                        "larger one."
                    )
                round_text = current.joined()
                all_text.append(round_text)
                calls = current.calls
                cut = CUT_OFF_REASONS.get(current.stop)
                await self.store.update_message(
                    message_id,
                    text=round_text,
                    parts=_assistant_parts(round_text, calls, current.thinking),
                    status="truncated" if cut else "complete",
                    input_tokens=current.input_tokens,
                    output_tokens=current.output_tokens,
                )
                history.append(
                    {
                        "role": "assistant",
                        "text": round_text,
                        "tool_calls": _neutral_calls(calls),
                        "thinking": [t.as_part() for t in current.thinking],
                    }
                )
                current = None
                if cut:
                    # A cut reply's tool calls may be incomplete: report them, run none.
                    if calls:
                        results = []
                        for call in calls:
                            yield ToolCallStarted(call.id, call.name, call.input, message_id)
                            cut_part = _cut_result(call, cut)
                            results.append(cut_part)
                            yield ToolResult(
                                call.id, call.name, call.input, cut_part["content"], True
                            )
                        await self.store.add_message(self.id, "tool", "", parts=results)
                    yield await self._usage(usage_in, usage_out, *cached)
                    log.warning("turn in session %s ended: %s", self.id, cut)
                    said = (
                        f"{cut[0].upper()}{cut[1:]}; what arrived is kept. Ask the assistant to "
                        "continue, or to do less in one reply."
                    )
                    await self._save_failed(None, said)
                    yield TurnFailed(said)
                    return
                if not calls:
                    finished = True
                    break
                if rounds > self.settings.max_tool_rounds:
                    break
                results = []
                repeated: str | None = None
                try:
                    for index, call in enumerate(calls):
                        yield ToolCallStarted(call.id, call.name, call.input, message_id)
                        if index < MAX_CALLS_PER_REPLY:
                            result = await self._run_tool(call)
                        else:
                            result = EditorResult(
                                f"Not run: one reply may make at most {MAX_CALLS_PER_REPLY} "
                                "tool calls. Make this call again in your next reply.",
                                is_error=True,
                            )
                        results.append(
                            {
                                "type": "tool_result",
                                "tool_use_id": call.id,
                                "name": call.name,
                                "content": result.text,
                                "is_error": result.is_error,
                                **({"edit_id": result.edit_id} if result.edit_id else {}),
                            }
                        )
                        log.info(
                            "tool %s %s: %s", call.name, (call.input or {}).get("command"),
                            "error" if result.is_error else "ok",
                        )  # fmt: skip
                        yield ToolResult(
                            call.id, call.name, call.input, result.text, result.is_error,
                            result.edit_id if result.changed else None,
                        )  # fmt: skip
                        if result.changed:
                            yield await self._file_changed(result)
                        ran = index < MAX_CALLS_PER_REPLY
                        if ran and result.is_error and (call.input or {}).get("command") != "view":
                            key = json.dumps(call.input, sort_keys=True, default=str)
                            failures[key] = failures.get(key, 0) + 1
                            if failures[key] >= 2:
                                repeated = result.text.strip().splitlines()[0]
                finally:
                    # Stored even when the turn is cancelled or fails after a write, so a
                    # call that ran is never replayed as "not run".
                    if results:
                        await asyncio.shield(
                            self.store.add_message(self.id, "tool", "", parts=results)
                        )
                history.append({"role": "tool", "results": results})
                if repeated:
                    yield await self._usage(usage_in, usage_out, *cached)
                    stopped = (
                        f"The assistant repeated an edit that had already failed ({repeated}); "
                        "the turn was stopped. Rephrase the request or edit the file yourself."
                    )
                    await self._save_failed(None, stopped)
                    yield TurnFailed(stopped)
                    return
            if not finished:
                yield Notice(
                    f"The assistant used all {self.settings.max_tool_rounds} tool rounds of this "
                    "turn without finishing; send 'continue' to let it go on."
                )
            yield await self._usage(usage_in, usage_out, *cached)
            log.info("turn done in session %s (%d rounds)", self.id, rounds)
            yield TurnDone("".join(all_text), ids)
        except asyncio.CancelledError:
            partial = current.joined() if current else ""
            if current is not None:
                await asyncio.shield(self._save_interrupted(current))
            self._task = None
            log.info("turn cancelled in session %s", self.id)
            yield TurnCancelled(partial)
            return
        except GeneratorExit:
            # The front end stopped reading the turn (closed it): the turn ends here, and
            # what the reply had is kept as interrupted rather than left 'partial'.
            if current is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._save_interrupted(current))
            log.info("turn closed by its reader in session %s", self.id)
            raise
        except ProviderError as exc:
            log.warning("turn failed in session %s: %s", self.id, exc)
            await self._save_failed(current, str(exc))
            if usage_in or usage_out:
                with contextlib.suppress(ScoreChatError):
                    yield await self._usage(usage_in, usage_out, *cached)
            yield TurnFailed(str(exc))
        except ScoreChatError as exc:
            log.warning("turn failed in session %s: %s", self.id, exc)
            await self._save_failed(current, str(exc))
            yield TurnFailed(str(exc))
        except Exception as exc:
            log.exception("turn failed unexpectedly in session %s", self.id)
            said = (
                f"The turn failed unexpectedly ({type(exc).__name__}: {exc}); what was done is "
                "kept, and the details are in the log."
            )
            await self._save_failed(current, said)
            yield TurnFailed(said)
        finally:
            self._task = None

    async def _save_failed(self, current: _Round | None, why: str) -> None:
        """Keep the failure on record (best effort): the round that was streaming keeps its
        text, marked failed, with the sentence the user saw; with no round, a message of
        its own, so a resumed session still shows why the send failed."""
        error = {"type": "error", "text": why}
        try:
            if current is not None:
                await self.store.update_message(
                    current.message_id,
                    text=current.joined(),
                    parts=[*_assistant_parts(current.joined(), []), error],
                    status="error",
                )
            else:
                await self.store.add_message(
                    self.id, "assistant", "", parts=[error], status="error"
                )
        except Exception:
            log.exception("could not record the failure in session %s", self.id)

    async def _save_interrupted(self, current: _Round) -> None:
        await self.store.update_message(
            current.message_id,
            text=current.joined(),
            parts=_assistant_parts(current.joined(), []),
            status="interrupted",
        )

    async def _stream_round(
        self, history: list[dict[str, Any]], current: _Round
    ) -> AsyncIterator[Event]:
        """One model response, retried on transient failures; fills ``current``."""
        assert self.provider is not None
        attempts = self.settings.retry_attempts
        for attempt in range(1, attempts + 1):
            current.text.clear()
            current.calls.clear()
            current.thinking.clear()
            current.stop = "end_turn"
            last_flush = time.monotonic()
            flushed = 0
            taken = _call_ids(history)
            received = 0
            try:
                await self.provider.prepare()
                system = await self._system_prompt()
                events = self.provider.stream(history, system)
                async for item in events:
                    if isinstance(item, stream.TextChunk | stream.ThinkingChunk):
                        received += len(item.text)
                        if received > stream.MAX_REPLY_CHARS:
                            # A model that runs on and on, or a stream that never ends.
                            current.stop = "max_tokens"
                            await _close(events)
                            break
                    if isinstance(item, stream.TextChunk):
                        current.text.append(item.text)
                        yield TextDelta(item.text, current.message_id)
                        now = time.monotonic()
                        if now - last_flush >= PERSIST_INTERVAL and len(current.text) != flushed:
                            last_flush, flushed = now, len(current.text)
                            await self.store.update_message(
                                current.message_id, text=current.joined(), status="partial"
                            )
                    elif isinstance(item, stream.ThinkingChunk):
                        yield ThinkingDelta(item.text, current.message_id)
                    elif isinstance(item, stream.ThinkingBlock):
                        current.thinking.append(item)
                    elif isinstance(item, stream.ToolCall):
                        current.calls.append(_with_unique_id(item, taken))
                    elif isinstance(item, stream.UsageReport):
                        current.input_tokens = _tokens(item.input_tokens)
                        current.output_tokens = _tokens(item.output_tokens)
                        current.cache_read = _tokens(item.cache_read_tokens)
                        current.cache_write = _tokens(item.cache_write_tokens)
                    elif isinstance(item, stream.Stop):
                        current.stop = item.reason
                return
            except TransientError as exc:
                if attempt >= attempts:
                    raise ProviderError(
                        f"The model did not answer: {exc} (tried {attempts} times)."
                    ) from None
                wait = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else (self.settings.retry_base_delay * 2 ** (attempt - 1))
                )
                wait = min(wait, 60.0)
                log.warning("retrying in session %s (attempt %d in %.1fs): %s", self.id,
                            attempt + 1, wait, exc)  # fmt: skip
                yield Retrying(attempt + 1, wait, str(exc))
                # What streamed before the failure is not kept: the retry starts afresh.
                await self.store.update_message(current.message_id, text="", status="partial")
                await asyncio.sleep(wait)

    async def _system_prompt(self) -> str:
        if self._system is None:
            try:
                text: str | None = await asyncio.to_thread(read_text, self.path)
            except NotFoundError:
                text = None
            self._system = build_system_prompt(
                scorecard=self.record.scorecard,
                score=self.record.score,
                rel_path=self.record.path,
                entry=text is not None and _lists_scores(text),
            )
        return self._system

    async def _file_snapshot(self) -> dict[str, Any]:
        """The file as the user's message goes out: the text, or that it is unchanged
        since the previous snapshot of this session (stored, so replays never change)."""
        try:
            text: str | None = await asyncio.to_thread(read_text, self.path)
        except NotFoundError:
            text = None
        except ScoreChatError as exc:  # too big, binary...: the model is told why
            return {"type": "file", "path": self.record.path, "missing": True, "why": str(exc)}
        if text is None:
            return {"type": "file", "path": self.record.path, "missing": True}
        if text == await self._last_snapshot():
            return {"type": "file", "path": self.record.path, "unchanged": True}
        snapshot = {"type": "file", "path": self.record.path, "text": text}
        problem = await asyncio.to_thread(yaml_problem, text)
        return snapshot | {"problem": problem} if problem else snapshot

    async def _last_snapshot(self) -> str | None:
        for parts in await self.store.user_parts(self.id):
            for part in parts:
                if part.get("type") == "file":
                    if "text" in part:
                        return str(part["text"])
                    if part.get("missing"):
                        return None
        return None

    async def _run_tool(self, call: stream.ToolCall) -> EditorResult:
        if call.name not in EDITOR_NAMES:
            return EditorResult(
                f"Unknown tool {call.name!r}: the only tool is the editor (str_replace_editor).",
                is_error=True,
            )
        if call.input is None:
            return EditorResult(
                f"The tool call could not be run: {call.error or 'no arguments'}. "
                "Send the arguments as a JSON object.",
                is_error=True,
            )
        return await self.tool.run(call.input)

    async def _usage(
        self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
    ) -> Usage:
        cost = 0.0
        if self.provider is not None:
            uncached = max(input_tokens - cache_read - cache_write, 0)
            cost = self.provider.cost(uncached, output_tokens, cache_write, cache_read)
        await self.store.add_usage(self.id, input_tokens, output_tokens, cost)
        record = await self.refresh()
        window = self.provider.context_window if self.provider is not None else None
        return Usage(
            input_tokens, output_tokens, cost,
            record.input_tokens, record.output_tokens, record.cost_usd,
            cache_read_tokens=cache_read, cache_write_tokens=cache_write,
            context_tokens=self._context_tokens, context_window=window,
        )  # fmt: skip

    async def _history(self) -> list[dict[str, Any]]:
        messages = await self.store.messages_for_turns(self.id, self.settings.history_turns)
        return build_history(messages)


def _assistant_parts(
    text: str, calls: list[stream.ToolCall], thinking: list[stream.ThinkingBlock] | None = None
) -> list[dict[str, Any]]:
    # Thinking first, as the model sent it: it is replayed unchanged.
    parts: list[dict[str, Any]] = [block.as_part() for block in thinking or []]
    if text:
        parts.append({"type": "text", "text": text})
    for call in calls:
        parts.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": call.input,
                **({"error": call.error} if call.error else {}),
            }
        )
    return parts


def _lists_scores(text: str) -> bool:
    """True for a scorecard file (a ``scores:`` list at the top level)."""
    return any(line.rstrip() == "scores:" for line in text.splitlines())


#: More tokens than any request has: a usage report beyond it is not believed.
MAX_REPORTED_TOKENS = 1_000_000_000


def _tokens(reported: int) -> int:
    """A token count from a provider's usage report, as the store can keep it: a server
    that reports a negative count or one past any context (a number too big for a
    database integer once failed the turn) is not believed."""
    return reported if 0 <= reported <= MAX_REPORTED_TOKENS else 0


#: What Claude takes as a tool call id; a session may move from another provider to it.
_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


async def _close(events: AsyncIterator[stream.ProviderEvent]) -> None:
    """End a provider's stream that is not read to its end (its connection with it)."""
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


def _call_ids(history: list[dict[str, Any]]) -> set[str]:
    return {
        call["id"] for item in history if item["role"] == "assistant"
        for call in item["tool_calls"]
    }  # fmt: skip


def _with_unique_id(call: stream.ToolCall, taken: set[str]) -> stream.ToolCall:
    """``call`` with an id no other call of the conversation has, in a form every
    provider takes. A server that repeats ids (one counting from zero again after a
    restart, say) would otherwise leave a history Claude refuses on every later turn
    ("tool_use ids must be unique"), and a result could answer the wrong call."""
    if call.id in taken or not _CALL_ID.fullmatch(call.id):
        call = dataclasses.replace(call, id=f"call_{uuid.uuid4().hex[:16]}")
    taken.add(call.id)
    return call


def _cut_result(call: stream.ToolCall, why: str) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": call.id,
        "name": call.name,
        "content": f"Not run: {why}, so this tool call may be incomplete.",
        "is_error": True,
    }


def _neutral_calls(calls: list[stream.ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.name, "input": c.input or {}} for c in calls]
