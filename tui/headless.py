"""Headless front ends: one turn for ``scorechat message`` and the ``doctor`` checks.

They consume the same engine events as the full-screen app.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from typing import Any

from engine.agent import ChatSession
from engine.diffing import unified_diff
from engine.editor_tool import Approver, ProposedEdit
from engine.errors import ProviderError, ScoreChatError, UsageError
from engine.events import (
    FileChanged,
    Notice,
    Retrying,
    TextDelta,
    ToolCallStarted,
    ToolResult,
    TurnCancelled,
    TurnDone,
    TurnFailed,
    Usage,
)
from engine.logs import get_logger
from engine.providers import choose_provider
from engine.redact import redact
from engine.settings import Settings
from engine.store import Store
from engine.workspace import Workspace

log = get_logger("headless")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


async def run_message(
    settings: Settings,
    text: str,
    *,
    scorecard: str | None,
    score: str | None,
    session_id: str | None,
    as_json: bool,
    model: str | None = None,
) -> int:
    """Run one turn; print a person's view or one JSON object. Returns the exit code.

    With ``--json`` the object is printed whatever happens once the turn has begun
    (a full disk, a lost database): the failure is its last ``error`` response.
    """
    approver = terminal_approver() if settings.approval == "ask" else None
    workspace = Workspace(settings.workspace)
    ref = workspace.resolve_score(score, scorecard) if score else None
    store = await Store.open(settings.db_path)
    out: dict[str, Any] = {
        "chat_id": None, "message": text, "responses": [], "changes": [], "usage": {}, "logs": [],
    }  # fmt: skip
    try:
        if session_id:
            existing = await store.find_session(session_id)
            if (
                ref is not None
                and (ref.rel_path, ref.score) != (existing.path, existing.score)
                and (ref.rel_path != existing.path or ref.entry is not None)
            ):
                raise UsageError(
                    f"Session {existing.id} is about {existing.scorecard} / {existing.score}, "
                    f"not {ref.scorecard} / {ref.score}."
                )
        try:
            provider = await choose_provider(settings)
        except ProviderError as exc:
            if not as_json:
                raise
            out["responses"].append({"type": "error", "content": str(exc)})
            print(redact(json.dumps(out, ensure_ascii=False)))
            return 1
        try:
            if session_id:
                chat = await ChatSession.resume(
                    store=store, workspace=workspace, settings=settings, provider=provider,
                    session_id=session_id, approver=approver,
                )  # fmt: skip
            else:
                assert ref is not None
                chat = await ChatSession.start(
                    store=store, workspace=workspace, settings=settings, provider=provider,
                    score=ref, approver=approver,
                )  # fmt: skip
            out["chat_id"] = chat.id
            try:
                code = await _consume(chat, text, out, as_json)
                if out["changes"] or any(r["type"] == "tool_result" for r in out["responses"]):
                    state = await chat.file_state()
                    out["changes"] = (
                        [{"path": state.path, "diff": state.diff, "key_paths": state.key_paths}]
                        if state.diff
                        else []
                    )
            except (ScoreChatError, OSError, sqlite3.Error) as exc:
                if not as_json:
                    raise
                log.exception("the turn failed in session %s", chat.id)
                out["responses"].append({"type": "error", "content": _sentence(exc)})
                code = 1
        finally:
            await provider.aclose()
        if as_json:
            print(redact(json.dumps(out, ensure_ascii=False)))
        return code
    finally:
        await store.close()


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, ScoreChatError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"The turn failed: {exc.strerror or exc}."
    return f"The database failed: {exc}."


def terminal_approver() -> Approver:
    """Ask on the terminal before each write (``--approval ask``); refuse without one."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError(
            "--approval ask needs a terminal to ask on; run it in a terminal, or use "
            "--approval auto to apply edits without asking."
        )

    async def approve(proposal: ProposedEdit) -> str | None:
        diff = unified_diff(proposal.before or "", proposal.after or "", proposal.path)
        _err(f"\nThe assistant wants to {proposal.command} {proposal.path}:\n{diff}")
        answer = await asyncio.to_thread(
            _ask_line, "Apply this edit? [y]es / [n]o (or type a reason to reject): "
        )
        if answer.strip().lower() in ("y", "yes"):
            return None
        return "" if answer.strip().lower() in ("", "n", "no") else answer.strip()

    return approve


def _ask_line(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.rstrip("\n")


async def _consume(chat: ChatSession, text: str, out: dict[str, Any], as_json: bool) -> int:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, chat.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    pending: dict[int, list[str]] = {}
    code = 0

    def flush() -> None:
        for chunks in pending.values():
            content = "".join(chunks)
            if content.strip():
                out["responses"].append({"type": "ai_message", "content": content})
        pending.clear()

    try:
        async for event in chat.send(text):
            if isinstance(event, TextDelta):
                pending.setdefault(event.message_id, []).append(event.text)
                if not as_json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                continue
            if not isinstance(event, Retrying):
                flush()
            if isinstance(event, ToolCallStarted):
                if not as_json:
                    _err(f"\n[{event.command} {event.path}]")
            elif isinstance(event, ToolResult):
                out["responses"].append(
                    {
                        "type": "tool_result",
                        "tool": event.name,
                        "command": event.command,
                        "input": event.input,
                        "result": event.text,
                        "is_error": event.is_error,
                    }
                )
                if not as_json:
                    mark = "error" if event.is_error else "ok"
                    _err(f"  -> {mark}: {event.summary}")
            elif isinstance(event, FileChanged):
                out["changes"] = [
                    {"path": event.path, "diff": event.diff, "key_paths": event.key_paths}
                ]
            elif isinstance(event, Retrying):
                # The failed attempt's text is not the reply: it must not appear twice.
                pending.clear()
                line = f"Retrying (attempt {event.attempt}) in {event.wait:.1f}s: {event.reason}."
                out["logs"].append(line)
                if not as_json:
                    _err(line)
            elif isinstance(event, Notice):
                out["logs"].append(event.text)
                if not as_json:
                    _err(event.text)
            elif isinstance(event, Usage):
                out["usage"] = {
                    "input_tokens": event.input_tokens,
                    "output_tokens": event.output_tokens,
                    "cost_usd": round(event.cost_usd, 6),
                    "session_input_tokens": event.session_input_tokens,
                    "session_output_tokens": event.session_output_tokens,
                    "session_cost_usd": round(event.session_cost_usd, 6),
                    "cache_read_tokens": event.cache_read_tokens,
                    "cache_write_tokens": event.cache_write_tokens,
                    "context_tokens": event.context_tokens,
                    "context_window": event.context_window,
                }
            elif isinstance(event, TurnFailed):
                out["responses"].append({"type": "error", "content": event.message})
                if not as_json:
                    _err(f"\nscorechat: {event.message}")
                code = 1
            elif isinstance(event, TurnCancelled):
                out["responses"].append(
                    {
                        "type": "error",
                        "content": "The turn was cancelled; the partial reply was kept.",
                    }
                )
                code = 130
            elif isinstance(event, TurnDone) and not as_json:
                sys.stdout.write("\n")
    finally:
        flush()
        try:
            loop.remove_signal_handler(signal.SIGTERM)
        except (NotImplementedError, RuntimeError):
            pass
    if not as_json and out["changes"]:
        change = out["changes"][0]
        _err(f"Changed {change['path']}: {', '.join(change['key_paths']) or 'text'}")
    return code


async def run_doctor(settings: Settings) -> tuple[list[dict[str, Any]], bool]:
    """Each check as ``{name, ok, detail, optional}`` and whether any model can answer."""
    from engine.providers import ollama_models
    from engine.settings import DEFAULT_OLLAMA_MODEL

    checks: list[dict[str, Any]] = []
    try:
        count = len(Workspace(settings.workspace).scores())
        if count:
            checks.append(
                {
                    "name": "workspace",
                    "ok": True,
                    "detail": f"{settings.workspace} ({count} scores)",
                }
            )
        else:
            checks.append(
                {
                    "name": "workspace",
                    "ok": False,
                    "detail": f"{settings.workspace} has no score files: scorechat reads "
                    "<Scorecard>/<Score>.yaml (point --workspace at the folder that holds "
                    "the scorecard folders)",
                }
            )
    except Exception as exc:
        checks.append({"name": "workspace", "ok": False, "detail": str(exc)})
    try:
        store = await Store.open(settings.db_path)
        try:
            await store._db.execute("BEGIN IMMEDIATE")
            await store._db.rollback()
        finally:
            await store.close()
        checks.append({"name": "database", "ok": True, "detail": f"{settings.db_path} is writable"})
    except Exception as exc:
        checks.append({"name": "database", "ok": False, "detail": str(exc)})
    models = await ollama_models(settings.ollama_host)
    wanted = settings.model or settings.ollama_model or DEFAULT_OLLAMA_MODEL
    if models is None:
        checks.append(
            {
                "name": "ollama",
                "ok": False,
                "optional": True,
                "detail": f"not reachable at {redact(settings.ollama_host)}",
            }
        )
        ollama_ok = False
    else:
        present = wanted in models or f"{wanted}:latest" in models
        ollama_ok = bool(models)
        detail = f"reachable at {redact(settings.ollama_host)}; {len(models)} model(s)"
        detail += (
            f"; {wanted} is present"
            if present
            else f"; {wanted} is not pulled (`ollama pull {wanted}`)"
        )
        checks.append({"name": "ollama", "ok": ollama_ok, "optional": True, "detail": detail})
    key_ok = bool(settings.anthropic_api_key)
    checks.append(
        {
            "name": "anthropic",
            "ok": key_ok,
            "optional": True,
            "detail": "ANTHROPIC_API_KEY is set" if key_ok else "ANTHROPIC_API_KEY is not set",
        }
    )
    return checks, ollama_ok or key_ok
