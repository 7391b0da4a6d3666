"""The turn loop with the scripted provider: events, persistence, limits, cancel, resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from engine import events as ev
from engine.agent import ChatSession
from engine.history import MAX_HISTORY_CHARS, build_history
from engine.providers import HOW_TO_CONNECT
from engine.providers.scripted import ScriptedProvider
from engine.settings import Settings
from engine.store import Store
from engine.workspace import Workspace
from tests.fakes.scripts import GREETING, edit, text, tool


async def start(
    settings: Settings, store: Store, provider: Any, score: str = "greeting"
) -> ChatSession:
    ws = Workspace(settings.workspace)
    return await ChatSession.start(
        store=store,
        workspace=ws,
        settings=settings,
        provider=provider,
        score=ws.resolve_score(score),
    )


async def collect(chat: ChatSession, message: str) -> list[Any]:
    return [event async for event in chat.send(message)]


async def test_two_round_edit_turn(settings: Settings, store: Store, workspace: Path) -> None:
    provider = ScriptedProvider([
        [text("Raising the limit."), edit("limit: 100", "limit: 300")],
        [text("Done: the limit is 300.")],
    ])  # fmt: skip
    chat = await start(settings, store, provider)
    events = await collect(chat, "raise the limit to 300")
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.TurnStarted and kinds[-1] is ev.TurnDone
    assert ev.ToolCallStarted in kinds and ev.ToolResult in kinds and ev.Usage in kinds
    changed = next(e for e in events if isinstance(e, ev.FileChanged))
    assert (
        changed.path == GREETING
        and "+  limit: 300" in changed.diff
        and changed.key_paths == ["data.limit"]
    )
    assert "limit: 300" in (workspace / GREETING).read_text()
    done = events[-1]
    assert done.text == "Raising the limit.Done: the limit is 300."
    messages = await store.messages(chat.id)
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert all(m.status == "complete" for m in messages)
    assert (
        messages[1].parts[1]["type"] == "tool_use"
        and messages[2].parts[0]["tool_use_id"] == messages[1].parts[1]["id"]
    )
    edits = await store.edits(chat.id)
    assert len(edits) == 1 and edits[0].message_id == messages[1].id
    session = await store.get_session(chat.id)
    assert session is not None and session.title == "raise the limit to 300"
    assert session.output_tokens > 0


async def test_user_message_saved_before_the_model_is_called(
    settings: Settings, store: Store
) -> None:
    provider = ScriptedProvider([[{"type": "error", "message": "The model exploded."}]])
    chat = await start(settings, store, provider)
    events = await collect(chat, "keep me")
    assert isinstance(events[-1], ev.TurnFailed) and events[-1].message == "The model exploded."
    messages = await store.messages(chat.id)
    assert messages[0].role == "user" and messages[0].text == "keep me"
    assert messages[1].status == "error"


async def test_no_provider_says_how_to_connect(settings: Settings, store: Store) -> None:
    chat = await start(settings, store, None)
    events = await collect(chat, "hello")
    assert isinstance(events[-1], ev.TurnFailed) and events[-1].message == HOW_TO_CONNECT
    assert (await store.messages(chat.id))[0].text == "hello"


async def test_tool_loop_is_capped(settings: Settings, store: Store) -> None:
    settings = settings.with_overrides(max_tool_rounds=3)
    views = [
        [
            {
                "type": "tool_use",
                "name": "str_replace_editor",
                "input": {"command": "view", "path": GREETING, "view_range": [1, i + 1]},
            }
        ]
        for i in range(10)
    ]
    provider = ScriptedProvider(views)
    chat = await start(settings, store, provider)
    events = await collect(chat, "look around")
    assert sum(isinstance(e, ev.ToolCallStarted) for e in events) == 3
    notice = next(e for e in events if isinstance(e, ev.Notice))
    assert "all 3 tool rounds" in notice.text
    assert isinstance(events[-1], ev.TurnDone)
    assert len(provider.calls) == 4  # three tool rounds and one whose calls are not run


async def test_repeated_failing_edit_is_stopped(
    settings: Settings, store: Store, workspace: Path
) -> None:
    bad = edit("no such text", "x")
    provider = ScriptedProvider([[bad], [bad], [text("never reached")]])
    chat = await start(settings, store, provider)
    events = await collect(chat, "edit it")
    assert isinstance(events[-1], ev.TurnFailed)
    assert "repeated an edit that had already failed" in events[-1].message
    assert len(provider.calls) == 2


async def test_unknown_tool_and_malformed_arguments_go_back_to_the_model(
    settings: Settings, store: Store
) -> None:
    provider = ScriptedProvider([
        [{"type": "tool_use", "name": "bash", "input": {"cmd": "rm -rf /"}}],
        [{"type": "tool_use", "name": "str_replace_editor", "input": "not an object"}],
        [text("ok")],
    ])  # fmt: skip
    chat = await start(settings, store, provider)
    events = await collect(chat, "go")
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    assert results[0].is_error and "Unknown tool 'bash'" in results[0].text
    assert results[1].is_error and "JSON object" in results[1].text
    assert isinstance(events[-1], ev.TurnDone)


async def test_a_reply_with_hundreds_of_tool_calls_runs_only_the_first_ones(
    settings: Settings, store: Store, workspace: Path
) -> None:
    from engine.agent import MAX_CALLS_PER_REPLY

    # Each call inserts a comment line: 300 of them, all different.
    calls = [tool(command="insert", path=GREETING, insert_line=0, insert_text=f"# {i}")
             for i in range(300)]  # fmt: skip
    provider = ScriptedProvider([calls, [text("done")]])
    chat = await start(settings, store, provider)
    events = await collect(chat, "go")
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    assert len(results) == 300  # every call is answered, as the APIs require
    ran = [r for r in results if not r.text.startswith("Not run")]
    assert len(ran) == MAX_CALLS_PER_REPLY and not any(r.is_error for r in ran)
    assert "at most 25 tool calls" in results[-1].text and results[-1].is_error
    inserted = {line for line in (workspace / GREETING).read_text().splitlines()
                if line.startswith("# ") and line[2:].isdigit()}  # fmt: skip
    assert inserted == {f"# {i}" for i in range(MAX_CALLS_PER_REPLY)}
    assert isinstance(events[-1], ev.TurnDone)  # not stopped as a repeated failure


async def test_system_prompt_is_stable_and_each_message_carries_the_file(
    settings: Settings, store: Store, workspace: Path
) -> None:
    provider = ScriptedProvider([[text("one")], [text("two")], [text("three")]])
    chat = await start(settings, store, provider)
    await collect(chat, "first")
    path = workspace / GREETING
    path.write_text(path.read_text().replace("limit: 100", "limit: 777"))
    await collect(chat, "second")
    await collect(chat, "third")
    # The system prompt never changes within a session (caching, preserved thinking).
    assert provider.calls[0]["system"] == provider.calls[1]["system"] == provider.calls[2]["system"]
    assert "Score YAML reference" in provider.calls[0]["system"]
    assert "limit: 100" not in provider.calls[0]["system"]
    first, second, third = (c["messages"] for c in provider.calls)
    assert "    32\t  limit: 100" in first[0]["file"]
    assert "    32\t  limit: 777" in second[-1]["file"]
    assert "has not changed since the previous message" in third[-1]["file"]
    # Earlier messages are replayed exactly as they were sent.
    assert second[: len(first)] == first and third[: len(second)] == second


async def test_the_file_sent_with_a_message_says_when_it_is_not_valid_yaml_or_cannot_be_shown(
    settings: Settings, store: Store, workspace: Path
) -> None:
    provider = ScriptedProvider([[text("one")], [text("two")], [text("three")]])
    chat = await start(settings, store, provider)
    path = workspace / GREETING
    valid = path.read_text()
    path.write_text(valid.replace("  days: 90", "  days: [90"))
    await collect(chat, "first")
    path.write_text(valid + "# padding\n" * 600_000)  # over the 5 MB a score may have
    await collect(chat, "second")
    path.write_text(valid)
    await collect(chat, "third")
    first, second, third = (c["messages"][-1]["file"] for c in provider.calls)
    assert "    31\t  days: [90" in first
    assert f"Note: {GREETING} is not valid YAML now (line 32, column" in first
    assert second.startswith(f"(The file {GREETING} cannot be shown: The file Greeting.yaml is ")
    assert "not valid YAML" not in third and "does not exist" not in second


async def test_text_is_persisted_while_streaming(settings: Settings, store: Store) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    provider = ScriptedProvider([[text(words)]], chunk_delay=0.005)
    chat = await start(settings, store, provider)
    seen_partial = []
    async for event in chat.send("stream please"):
        if isinstance(event, ev.TextDelta) and event.text.startswith("word150"):
            message = await store.get_message(event.message_id)
            assert message is not None
            seen_partial.append((message.status, message.text))
    assert seen_partial and seen_partial[0][0] == "partial"
    assert "word100" in seen_partial[0][1]  # saved at most 250 ms behind the stream
    final = (await store.messages(chat.id))[-1]
    assert final.status == "complete" and final.text == words


async def test_cancel_keeps_partial_text_marked_interrupted(
    settings: Settings, store: Store
) -> None:
    words = " ".join(f"w{i}" for i in range(400))
    provider = ScriptedProvider([[text(words)]], chunk_delay=0.01)
    chat = await start(settings, store, provider)
    events: list[Any] = []

    async def consume() -> None:
        async for event in chat.send("long reply"):
            events.append(event)
            if isinstance(event, ev.TextDelta) and event.text.startswith("w20 "):
                chat.cancel()

    await asyncio.wait_for(consume(), 10)
    assert isinstance(events[-1], ev.TurnCancelled)
    assert events[-1].partial_text.startswith("w0 w1") and "w20" in events[-1].partial_text
    assistant = (await store.messages(chat.id))[-1]
    assert assistant.status == "interrupted" and assistant.text == events[-1].partial_text


async def test_resume_replays_tool_calls_into_history(settings: Settings, store: Store) -> None:
    provider = ScriptedProvider([[edit("limit: 100", "limit: 5")], [text("done")], [text("again")]])
    chat = await start(settings, store, provider)
    await collect(chat, "first")
    resumed = await ChatSession.resume(
        store=store,
        workspace=Workspace(settings.workspace),
        settings=settings,
        provider=provider,
        session_id=chat.id[:6],
    )
    await collect(resumed, "second")
    history = provider.calls[-1]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[1]["tool_calls"][0]["input"]["new_str"] == "limit: 5"
    assert history[2]["results"][0]["tool_use_id"] == history[1]["tool_calls"][0]["id"]


async def test_resume_marks_crashed_partial_messages_interrupted(
    settings: Settings, store: Store
) -> None:
    chat = await start(settings, store, ScriptedProvider([]))
    await store.add_message(chat.id, "user", "before the crash")
    await store.add_message(chat.id, "assistant", "half a rep", status="partial")
    resumed = await ChatSession.resume(
        store=store,
        workspace=Workspace(settings.workspace),
        settings=settings,
        provider=None,
        session_id=chat.id,
    )
    statuses = [m.status for m in await store.messages(resumed.id)]
    assert statuses == ["complete", "interrupted"]


async def test_history_is_bounded_with_200_earlier_turns(settings: Settings, store: Store) -> None:
    chat = await start(settings, store, ScriptedProvider([[text("latest")]]))
    for i in range(200):
        await store.add_message(chat.id, "user", f"question {i}")
        await store.add_message(
            chat.id,
            "assistant",
            f"answer {i}",
            parts=[
                {"type": "text", "text": f"answer {i}"},
                {
                    "type": "tool_use",
                    "id": f"t{i}",
                    "name": "str_replace_editor",
                    "input": {"command": "view", "path": GREETING},
                },
            ],
        )
        await store.add_message(
            chat.id,
            "tool",
            "",
            parts=[
                {
                    "type": "tool_result",
                    "tool_use_id": f"t{i}",
                    "name": "str_replace_editor",
                    "content": "line one\n" + "long line\n" * 500,
                    "is_error": False,
                }
            ],
        )
    provider = chat.provider
    await collect(chat, "the newest question")
    history = provider.calls[-1]["messages"]  # type: ignore[union-attr]
    users = [m["text"] for m in history if m["role"] == "user"]
    assert len(users) == settings.history_turns
    assert users[0] == "question 191" and users[-1] == "the newest question"
    tool_contents = [r["content"] for m in history if m["role"] == "tool" for r in m["results"]]
    # Replayed whole (an unchanged prefix), and bounded by the history's size budget.
    assert all(c.startswith("line one\n") and c.count("long line") == 500 for c in tool_contents)
    assert len(json.dumps(history)) <= MAX_HISTORY_CHARS


def test_build_history_pairs_orphan_tool_calls() -> None:
    from engine.store import StoredMessage

    def msg(i: int, role: str, text: str = "", parts: list | None = None) -> StoredMessage:
        return StoredMessage(i, "s", role, text, parts or [], "complete", None, None, 0.0, 0.0)

    history = build_history([
        msg(1, "user", "hi"),
        msg(2, "assistant", "", [{"type": "tool_use", "id": "a", "name": "str_replace_editor", "input": {"command": "view"}}]),
        msg(3, "user", "again"),
        msg(4, "assistant", "", []),
    ])  # fmt: skip
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "user"]
    assert history[2]["results"][0]["tool_use_id"] == "a" and history[2]["results"][0]["is_error"]


async def test_undo_all_restores_the_baseline(
    settings: Settings, store: Store, workspace: Path
) -> None:
    original = (workspace / GREETING).read_bytes()
    provider = ScriptedProvider(
        [[edit("limit: 100", "limit: 1")], [edit("days: 90", "days: 2")], [text("ok")]]
    )
    chat = await start(settings, store, provider)
    await collect(chat, "two edits")
    report = await chat.undo_all()
    assert (report.undone, report.remaining, report.stopped) == (2, 0, None)
    assert (workspace / GREETING).read_bytes() == original
    state = await chat.file_state()
    assert state.diff == "" and state.exists


@pytest.mark.parametrize("title_source", ["  a   very\nlong first message " * 10])
async def test_title_is_one_short_line(settings: Settings, store: Store, title_source: str) -> None:
    chat = await start(settings, store, ScriptedProvider([[text("ok")]]))
    await collect(chat, title_source)
    title = (await store.get_session(chat.id)).title  # type: ignore[union-attr]
    assert len(title) <= 60 and "\n" not in title and title.startswith("a very long")


async def test_cancel_while_the_consumer_is_busy_still_saves_the_partial_reply(
    settings: Settings, store: Store
) -> None:
    provider = ScriptedProvider([[text(" ".join(f"w{i}" for i in range(100)))]])
    chat = await start(settings, store, provider)
    events = chat.send("long reply")
    seen: list[Any] = []
    final = None
    try:
        async for event in events:
            seen.append(event)
            if isinstance(event, ev.TextDelta) and event.text.startswith("w5 "):
                chat.cancel()
            await asyncio.sleep(0.01)  # drawing: the cancellation lands here, not in send()
    except asyncio.CancelledError:
        final = await ChatSession.settle_cancelled(events)  # type: ignore[arg-type]
    assert isinstance(final, ev.TurnCancelled) and final.partial_text.startswith("w0 w1")
    assert not any(isinstance(e, ev.TurnCancelled) for e in seen)
    assistant = (await store.messages(chat.id))[-1]
    assert assistant.status == "interrupted" and assistant.text == final.partial_text
