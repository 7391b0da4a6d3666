"""The turn core shared by ``scorechat message`` and a worker: its report is the JSON API."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.events import Event, TextDelta
from engine.providers.scripted import ScriptedProvider
from engine.settings import Settings
from engine.store import Store
from engine.turns import TurnReport, open_chat, run_turn
from engine.workspace import Workspace
from tests.fakes.scripts import GREETING, edit, text


async def test_the_report_is_the_message_json_object(
    settings: Settings, store: Store, workspace: Path
) -> None:
    ws = Workspace(settings.workspace)
    provider = ScriptedProvider(
        [[text("Lowering."), edit("limit: 100", "limit: 5")], [text("Done.")]]
    )
    chat = await open_chat(store, ws, settings, provider, score=ws.resolve_score("greeting"))
    report = await run_turn(chat, "lower the limit")
    data = report.to_dict()
    assert list(data) == ["chat_id", "message", "responses", "changes", "usage", "logs"]
    assert data["chat_id"] == chat.id and data["message"] == "lower the limit"
    assert [r["type"] for r in data["responses"]] == ["ai_message", "tool_result", "ai_message"]
    tool = data["responses"][1]
    assert set(tool) == {"type", "tool", "command", "input", "result", "is_error"}
    assert tool["tool"] == "str_replace_editor" and tool["command"] == "str_replace"
    assert data["changes"][0]["path"] == GREETING and data["changes"][0]["key_paths"] == [
        "data.limit"
    ]
    assert list(data["usage"]) == [
        "input_tokens", "output_tokens", "cost_usd",
        "session_input_tokens", "session_output_tokens", "session_cost_usd",
        "cache_read_tokens", "cache_write_tokens", "context_tokens", "context_window",
    ]  # fmt: skip
    assert data["usage"]["session_input_tokens"] >= data["usage"]["input_tokens"] > 0
    assert report.exit_code == 0
    # The same chat continues by id, from any process.
    again = await open_chat(
        store, ws, settings, ScriptedProvider([[text("ok")]]), session_id=chat.id
    )
    follow = await run_turn(again, "thanks")
    assert follow.chat_id == chat.id and follow.responses == [
        {"type": "ai_message", "content": "ok"}
    ]


async def test_bad_openings_are_one_sentence(settings: Settings, store: Store) -> None:
    ws = Workspace(settings.workspace)
    with pytest.raises(UsageError, match="Name the score"):
        await open_chat(store, ws, settings, None)
    chat = await open_chat(store, ws, settings, None, score=ws.resolve_score("greeting"))
    with pytest.raises(UsageError, match="is about Customer Service QA / Greeting"):
        await open_chat(
            store, ws, settings, None, session_id=chat.id, score=ws.resolve_score("senti")
        )


async def test_a_failed_turn_is_an_error_response(settings: Settings, store: Store) -> None:
    ws = Workspace(settings.workspace)
    chat = await open_chat(store, ws, settings, None, score=ws.resolve_score("greeting"))
    report = await run_turn(chat, "hello")
    assert report.exit_code == 1 and report.responses[-1]["type"] == "error"
    assert TurnReport("x").fail("No.").to_dict()["responses"] == [
        {"type": "error", "content": "No."}
    ]


async def test_a_front_end_that_fails_mid_turn_leaves_the_reply_interrupted(
    settings: Settings, store: Store
) -> None:
    """A front end whose printing raised left the turn's reply 'partial' until the next
    open: the turn now stops where it was, its reply kept and marked interrupted."""
    ws = Workspace(settings.workspace)
    chat = await open_chat(
        store, ws, settings, ScriptedProvider([[text("one two three four")]]),
        score=ws.resolve_score("greeting"),
    )  # fmt: skip

    def show(event: Event) -> None:
        if isinstance(event, TextDelta):
            raise OSError("the terminal went away")

    report = await run_turn(chat, "hello", on_event=show)
    assert report.exit_code == 1 and "the terminal went away" in report.responses[-1]["content"]
    replies = [m for m in await store.messages(chat.id) if m.role == "assistant"]
    assert [(m.status, m.text.strip()) for m in replies] == [("interrupted", "one")]
