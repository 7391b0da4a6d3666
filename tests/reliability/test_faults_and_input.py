"""Slow servers, odd files and random command lines end in one clear sentence."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.agent import ChatSession
from engine.events import Retrying, TurnDone, TurnFailed
from engine.providers.ollama import OllamaProvider
from engine.settings import Settings
from engine.store import Store
from engine.workspace import Workspace
from tests.engine.test_providers import run_turn
from tests.fakes.steps import Step

GREETING = "Customer Service QA/Greeting.yaml"


async def _turn(settings: Settings, store: Store, provider: Any) -> list[Any]:
    return (await run_turn(settings, store, provider, "hello"))[1]


async def test_first_byte_slower_than_the_timeout(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(*[Step(text="late", first_byte_delay=1.5) for _ in range(3)])
    events = await _turn(
        settings, store, OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=0.3)
    )
    assert sum(isinstance(e, Retrying) for e in events) == 2
    assert isinstance(events[-1], TurnFailed) and "did not answer in time" in events[-1].message


async def test_a_slow_model_description_does_not_fail_the_turn(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    # /api/show (the model's window and tools) slower than the timeout the first time,
    # as a loaded server may be: the turn asks again with the reply (it used to fail at
    # once, "did not answer in time", without a retry).
    ollama_server.show_delays = [1.0]
    ollama_server.queue(Step(text="answered"))
    events = await _turn(
        settings, store, OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=0.3)
    )
    assert isinstance(events[-1], TurnDone) and events[-1].text == "answered"


@pytest.mark.parametrize("tokens", [10**20, -5])
async def test_usage_a_server_lies_about_is_not_believed(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any,
    monkeypatch: pytest.MonkeyPatch, tokens: int,
) -> None:  # fmt: skip
    """Token counts past any context (too big for a database integer: the turn failed)
    or below zero, and a model window of Infinity."""
    from tests.engine.test_providers import claude, edit_call
    from tests.fakes import ollama_server as fake

    anthropic_server.queue(
        Step(tool_calls=[edit_call("limit: 100", "limit: 7")], output_tokens=tokens),
        Step(text="Done.", output_tokens=tokens),
    )
    chat, events = await run_turn(settings, store, claude(anthropic_server), "lower it")
    assert isinstance(events[-1], TurnDone), events[-1]
    assert "limit: 7" in (settings.workspace / GREETING).read_text()
    record = await store.find_session(chat.id)
    assert record.output_tokens == 0 and record.cost_usd < 1
    monkeypatch.setitem(fake.CONTEXT_LENGTHS, "qwen3:8b", float("inf"))
    ollama_server.queue(Step(text="Fine.", output_tokens=tokens))
    provider = OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=5)
    _, events = await run_turn(settings, store, provider, "and?", session_id=chat.id)
    assert isinstance(events[-1], TurnDone), events[-1]
    assert provider.context_window == provider.max_num_ctx
    assert (await store.find_session(chat.id)).output_tokens == 0


async def test_stall_mid_stream_then_recovery(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="one two three four", stall=1.5), Step(text="recovered"))
    events = await _turn(
        settings, store, OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=0.3)
    )
    assert any(isinstance(e, Retrying) for e in events)
    assert isinstance(events[-1], TurnDone) and events[-1].text == "recovered"


async def test_huge_file_is_refused_in_one_sentence(workspace: Path) -> None:
    from engine.editor_tool import EditorTool

    big = workspace / "Customer Service QA" / "Huge.yaml"
    big.write_text("name: Huge\nnotes: |\n" + ("  " + "x" * 99 + "\n") * 200_000)
    assert big.stat().st_size > 20_000_000
    result = await EditorTool(workspace).run(
        {"command": "view", "path": "Customer Service QA/Huge.yaml"}
    )
    assert result.is_error and "MB" in result.text and "\n" not in result.text.strip()


async def test_score_deleted_while_its_session_is_open(
    settings: Settings, store: Store, workspace: Path
) -> None:
    from engine.providers.scripted import ScriptedProvider

    ws = Workspace(settings.workspace)
    chat = await ChatSession.start(
        store=store,
        workspace=ws,
        settings=settings,
        score=ws.resolve_score("greeting"),
        provider=ScriptedProvider([[{"type": "text", "text": "The file is gone."}]]),
    )
    (workspace / GREETING).unlink()
    state = await chat.file_state()
    assert not state.exists and state.text is None
    events = [e async for e in chat.send("what now?")]
    assert isinstance(events[-1], TurnDone)  # the prompt says the file does not exist
    assert "does not exist at the moment" in chat.provider.calls[-1]["messages"][-1]["file"]  # type: ignore[union-attr]
    assert [m.role for m in await store.messages(chat.id)] == ["user", "assistant"]


WORDS = ["scores", "list", "show", "check", "sessions", "search", "rename", "delete", "export", "end",
         "versions", "save", "restore", "undo", "models", "doctor", "--json", "--score", "--scorecard",
         "--session", "--provider", "--model", "--format", "--limit", "-n", "--all", "--yes", "--note",
         "greeting", "senti", "zzz", "", " ", "-1", "0", "99999999999999999999", "ollama", "gpt",
         "md", "pdf", "../x.yaml", "\x00", "é", "--", "-", "--help"]  # fmt: skip
SUBCOMMANDS = ["scores", "check", "sessions", "versions", "undo", "models", "doctor", "message"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.sampled_from(SUBCOMMANDS),
    rest=st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=6),
)
def test_random_command_lines_never_trace_back(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, first: str, rest: list[str]
) -> None:
    from tui import cli

    monkeypatch.setenv("SCORECHAT_WORKSPACE", str(workspace))
    monkeypatch.setattr(sys, "argv", ["scorechat", first, *rest])
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as exit_info,
    ):
        cli.main()
    assert "Traceback" not in err.getvalue() + out.getvalue()
    assert exit_info.value.code in (0, 1, 2, 130), (first, rest, exit_info.value.code)
    if exit_info.value.code != 0:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        assert lines and lines[-1].startswith("scorechat: "), (first, rest, err.getvalue())
