"""``scorechat message`` (one turn headless), ``scorechat models`` and ``scorechat doctor``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from engine.errors import UsageError
from engine.redact import redact
from tui.cli.common import fail, print_json, run, settings
from tui.cli.options import JsonOption, ModelOption, ProviderOption, ScorecardOption, ScriptOption


def message(
    text: Annotated[
        str, typer.Argument(help="What to ask the assistant; - reads it from standard input.")
    ],
    scorecard: ScorecardOption = None,
    score: Annotated[
        str | None,
        typer.Option("--score", "-s", help="The score (its name, key, id or a fragment)."),
    ] = None,
    session_id: Annotated[
        str | None, typer.Option("--session", help="Continue this session.")
    ] = None,
    provider: ProviderOption = None,
    model: ModelOption = None,
    script: ScriptOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    broker: Annotated[
        str | None,
        typer.Option("--broker", help="Send it to a scorechat worker through this broker URL."),
    ] = None,
) -> None:
    """Run one turn headless: the assistant answers and may edit the score."""
    from tui.headless import run_message

    if text == "-":
        text = _standard_input()
    if not text.strip():
        raise UsageError("The message is empty: give the text to send.")
    if not session_id and not score:
        raise UsageError(
            "Name the score with --score (and --scorecard), or continue one with --session."
        )
    if broker is not None:
        _through_broker(broker, text, scorecard, score, session_id, as_json)
        return
    current = settings(provider=provider, model=model, script=script)
    if provider and current.provider != provider:
        current = current.with_overrides(provider=provider)
    code = run(
        run_message(
            current, text, scorecard=scorecard, score=score, session_id=session_id,
            as_json=as_json, model=model,
        )
    )  # fmt: skip
    raise typer.Exit(code)


def _standard_input() -> str:
    """The message piped in (``scorechat message -``), as UTF-8 text. Typed at a
    terminal, it is read until Ctrl+D, which the person is told."""
    if sys.stdin.isatty():
        print("Type the message; Ctrl+D on a line of its own ends it.", file=sys.stderr)
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"Standard input is not UTF-8 text (bad byte at offset {exc.start})."
        ) from None


def _through_broker(
    broker: str,
    text: str,
    scorecard: str | None,
    score: str | None,
    session_id: str | None,
    as_json: bool,
) -> None:
    """``message --broker``: the same turn, run by a worker; the same JSON back."""
    from tui.cli.service import require_celery

    require_celery()
    from engine.service import generate_chat_id
    from worker.client import send_message

    current = settings(broker_url=broker)
    if session_id is None and not scorecard:
        raise UsageError("A new chat through the broker needs --scorecard as well as --score.")
    kwargs = {"chat_id": session_id or generate_chat_id(), "message": text}
    if session_id is None:
        kwargs.update(scorecard=scorecard or "", score=score or "")
    result = send_message(current, kwargs)
    failed = "error" in result or any(r.get("type") == "error" for r in result.get("responses", []))
    if as_json:
        typer.echo(redact(json.dumps(result, ensure_ascii=False)))
    else:
        for response in result.get("responses", []):
            if response.get("type") == "ai_message":
                typer.echo(response.get("content", ""))
            elif response.get("type") == "tool_result":
                state = "error" if response.get("is_error") else "ok"
                typer.echo(f"[{response.get('command')}] -> {state}", err=True)
        typer.echo(f"chat {result.get('chat_id')}", err=True)
    if failed:
        sentence = result.get("error") or next(
            (r.get("content") for r in result.get("responses", []) if r.get("type") == "error"), ""
        )
        raise fail(str(sentence), 1) if not as_json else typer.Exit(1)


def models(
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="ollama or anthropic.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the models a provider offers."""
    from engine.providers import choose_provider, make_provider

    current = settings()

    async def go() -> tuple[str, list[str]]:
        chosen = make_provider(current, provider) if provider else await choose_provider(current)
        try:
            return chosen.name, await chosen.list_models()
        finally:
            await chosen.aclose()

    name, names = run(go())
    if as_json:
        print_json({"provider": name, "models": names})
        return
    if not names:
        typer.echo(f"{name} offers no models.")
    for item in names:
        typer.echo(item)


def doctor(as_json: JsonOption = False) -> None:
    """Check what scorechat needs: a model, the database and the workspace."""
    from tui.headless import run_doctor

    checks, can_answer = run(run_doctor(settings()))
    if as_json:
        print_json({"checks": checks, "model_available": can_answer})
    else:
        for check_ in checks:
            mark = "ok  " if check_["ok"] else ("--  " if check_.get("optional") else "FAIL")
            typer.echo(f"[{mark}] {check_['name']}: {check_['detail']}")
    failed = [c["name"] for c in checks if not c["ok"] and not c.get("optional")]
    if failed:
        raise fail(f"Doctor found problems with: {', '.join(failed)}.", 1)
    if not can_answer:
        raise fail(
            "No model can answer: start Ollama and pull a model, or set ANTHROPIC_API_KEY.", 1
        )


#: Top-level commands of this group.
COMMANDS = {"message": message, "models": models, "doctor": doctor}
