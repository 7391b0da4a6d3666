"""Headless front ends: ``scorechat message`` (printing the engine's turn report) and
the ``doctor`` checks. The turn itself is ``engine.turns``, which a worker shares."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import Any, TextIO

from engine.diffing import unified_diff
from engine.editor_tool import Approver, ProposedEdit
from engine.errors import ProviderError, UsageError
from engine.events import (
    Event,
    Notice,
    Retrying,
    TextDelta,
    ToolCallStarted,
    ToolResult,
    TurnDone,
    TurnFailed,
)
from engine.providers import choose_provider
from engine.redact import redact
from engine.settings import Settings
from engine.store import Store
from engine.turns import TurnReport, open_chat, run_turn
from engine.workspace import Workspace
from tui.launch import silence


def _write(stream: TextIO, text: str) -> None:
    """Write and flush. A reader that went away (``scorechat message ... | head``)
    silences the stream, not the turn: the turn goes on, is recorded whole, and the
    command ends as the turn does."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        silence(stream)


def _err(text: str) -> None:
    _write(sys.stderr, text + "\n")


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
    """Run one turn through the engine's turn core; print a person's view as it streams,
    or the one JSON object. Returns the exit code."""
    approver = terminal_approver() if settings.approval == "ask" else None
    workspace = Workspace(settings.workspace)
    ref = workspace.resolve_score(score, scorecard) if score else None
    store = await Store.open(settings.database)
    try:
        if session_id:
            await store.find_session(session_id)  # an unknown id fails before any model call
        try:
            provider = await choose_provider(settings)
        except ProviderError as exc:
            if not as_json:
                raise
            report = TurnReport(message=text).fail(str(exc))
            print(redact(json.dumps(report.to_dict(), ensure_ascii=False)))
            return 1
        try:
            chat = await open_chat(
                store, workspace, settings, provider, session_id=session_id, score=ref,
                approver=approver,
            )  # fmt: skip
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGTERM, chat.cancel)
            said: list[str] = []

            def show(event: Event) -> None:
                if isinstance(event, TurnFailed):
                    said.append(event.message)
                _print_event(event)

            report = await run_turn(chat, text, on_event=None if as_json else show)
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGTERM)
        finally:
            await provider.aclose()
        if as_json:
            print(redact(json.dumps(report.to_dict(), ensure_ascii=False)))
        elif report.changes:
            change = report.changes[0]
            _err(f"Changed {change['path']}: {', '.join(change['key_paths']) or 'text'}")
        last = report.responses[-1] if report.responses else {}
        if not as_json and last.get("type") == "error" and last.get("content") not in said:
            _err(f"scorechat: {last.get('content')}")  # a failure outside the turn's events
        return report.exit_code
    finally:
        await store.close()


def _print_event(event: Event) -> None:
    """A person's view of one event: the reply on stdout, the rest on stderr."""
    match event:
        case TextDelta(text=chunk):
            _write(sys.stdout, chunk)
        case ToolCallStarted():
            _err(f"\n[{event.command} {event.path}]")
        case ToolResult():
            _err(f"  -> {'error' if event.is_error else 'ok'}: {event.summary}")
        case Retrying(attempt=attempt, wait=wait, reason=reason):
            _err(f"Retrying (attempt {attempt}) in {wait:.1f}s: {reason}.")
        case Notice(text=text):
            _err(text)
        case TurnFailed(message=message):
            _err(f"\nscorechat: {message}")
        case TurnDone():
            _write(sys.stdout, "\n")


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
        store = await Store.open(settings.database)
        try:
            await store.check_writable()
            info = await store.backend()
        finally:
            await store.close()
        checks.append(
            {
                "name": "database",
                "ok": info.schema == info.latest_schema,
                "detail": f"{info.name} {info.version} at {info.location}: reachable, "
                f"writable, schema {info.schema} of {info.latest_schema}",
            }
        )
    except Exception as exc:
        checks.append({"name": "database", "ok": False, "detail": redact(str(exc))})
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
