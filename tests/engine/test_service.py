"""The service API's core (``engine.service``), without a queue: argument checks, new
chats and follow-ups, one turn at a time per chat, idempotent keys, progress, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.service import (
    MAX_MESSAGE_CHARS,
    end_session,
    generate_chat_id,
    handle_message,
    owner_is_gone,
)
from engine.settings import Settings, load_settings
from engine.store import Store
from tests.fakes.steps import Step

GREETING = "Customer Service QA/Greeting.yaml"


@pytest.fixture
def service_settings(workspace: Path, ollama_server: Any) -> Settings:
    return load_settings(
        workspace=workspace, provider="ollama",
        environ={"SCORECHAT_HOME": str(workspace.parent / "svc-home"),
                 "OLLAMA_HOST": ollama_server.url, "SCORECHAT_RETRY_BASE_DELAY": "0"},
    )  # fmt: skip


def new_chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"chat_id": generate_chat_id(), "message": text,
            "scorecard": "Customer Service QA", "score": "Greeting", **extra}  # fmt: skip


def test_chat_ids_are_chat_uuid4() -> None:
    chat_id = generate_chat_id()
    assert chat_id.startswith("chat-") and len(chat_id) == 41 and chat_id[19] == "4"
    assert generate_chat_id() != chat_id


async def test_a_new_chat_edits_and_a_follow_up_continues(
    service_settings: Settings, workspace: Path, ollama_server: Any
) -> None:
    first = await handle_message(
        service_settings, new_chat("set model_name to gpt-4o"), turn_key="t1"
    )
    assert set(first) == {"chat_id", "message", "responses", "changes", "usage", "logs"}
    assert [r["type"] for r in first["responses"]] == ["ai_message", "tool_result", "ai_message"]
    assert "model_name: gpt-4o\n" in (workspace / GREETING).read_text()
    follow = {"chat_id": first["chat_id"], "message": "set model_name to gpt-4.1",
              "task_id": "dashboard-7"}  # fmt: skip
    second = await handle_message(service_settings, follow, turn_key="t2")
    assert second["task_id"] == "dashboard-7"
    assert second["changes"][0]["key_paths"] == ["model_name"]
    assert "model_name: gpt-4.1\n" in (workspace / GREETING).read_text()
    # The model saw the first turn: its request carries the first message.
    assert "set model_name to gpt-4o" in str(ollama_server.chat_requests[-1]["messages"])
    async with await Store.open(service_settings.db_path) as store:
        session = await store.get_session(first["chat_id"])
        assert session is not None and session.path == GREETING
        users = [m.text for m in await store.messages(session.id) if m.role == "user"]
    assert users == ["set model_name to gpt-4o", "set model_name to gpt-4.1"]


async def test_a_follow_up_that_names_another_score_is_refused(
    service_settings: Settings, workspace: Path, ollama_server: Any
) -> None:
    """A caller may send the scorecard and score with every message: the chat's own
    continue it, another score is one sentence, never an answer about the wrong file."""
    first = await handle_message(service_settings, new_chat("hello"), turn_key="a1")
    chat_id = first["chat_id"]
    same = {"chat_id": chat_id, "message": "again", "scorecard": "customer", "score": "greet"}
    assert "error" not in await handle_message(service_settings, same, turn_key="a2")
    asked = len(ollama_server.chat_requests)
    other = {**same, "message": "lower the limit", "scorecard": "Sales", "score": "Refund"}
    refused = await handle_message(service_settings, other, turn_key="a3")
    assert refused["error"] == (
        f"Session {chat_id} is about Customer Service QA / Greeting, "
        "not Sales Compliance / Refund Policy Disclosure."
    )
    unknown = await handle_message(service_settings, {**same, "score": "zzz"}, turn_key="a4")
    assert "No score matches" in unknown["error"]
    assert len(ollama_server.chat_requests) == asked
    # A score named without its scorecard is looked for in the chat's own, even when
    # another scorecard has a score of that name.
    twin = workspace / "Sales Compliance" / "Greeting.yaml"
    twin.write_text((workspace / GREETING).read_text())
    alone = {"chat_id": chat_id, "message": "and again", "score": "Greeting"}
    assert "error" not in await handle_message(service_settings, alone, turn_key="a5")
    async with await Store.open(service_settings.db_path) as store:
        users = [m.text for m in await store.messages(chat_id) if m.role == "user"]
    assert users == ["hello", "again", "and again"]


async def test_a_task_delivered_again_returns_its_result_and_stores_nothing_twice(
    service_settings: Settings, ollama_server: Any
) -> None:
    args = new_chat("set model_name to gpt-4o")
    first = await handle_message(service_settings, args, turn_key="same-key")
    requests = len(ollama_server.chat_requests)
    again = await handle_message(service_settings, args, turn_key="same-key")
    assert again == first
    assert len(ollama_server.chat_requests) == requests  # not run again
    async with await Store.open(service_settings.db_path) as store:
        messages = await store.messages(args["chat_id"])
        edits = await store.edits(args["chat_id"])
    assert [m.role for m in messages].count("user") == 1 and len(edits) == 1


async def test_a_turn_begun_by_a_lost_worker_is_continued_not_repeated(
    service_settings: Settings, workspace: Path, ollama_server: Any
) -> None:
    args = new_chat("set model_name to gpt-4o")
    # A first delivery stored its message and a partial reply, then its process died.
    async with await Store.open(service_settings.db_path) as store:
        from engine.turns import open_chat
        from engine.workspace import Workspace

        ws = Workspace(workspace)
        chat = await open_chat(store, ws, service_settings, None, score=ws.resolve_score(
            "Greeting", "Customer Service QA"), new_id=args["chat_id"])  # fmt: skip
        snapshot = await chat._file_snapshot()  # what send() stores with the message
        user_id = await store.add_message(
            chat.id, "user", args["message"], parts=[snapshot], turn_key="k1"
        )
        await store.add_message(chat.id, "assistant", "I'll set", status="partial")
    result = await handle_message(service_settings, args, turn_key="k1")
    assert any("continued here" in line for line in result["logs"])
    async with await Store.open(service_settings.db_path) as store:
        messages = await store.messages(args["chat_id"])
    assert [m.id for m in messages if m.role == "user"] == [user_id]
    assert next(m.status for m in messages if m.role == "assistant") == "interrupted"
    assert "model_name: gpt-4o\n" in (workspace / GREETING).read_text()


async def test_a_finished_turn_whose_result_was_lost_is_answered_from_the_record(
    service_settings: Settings, ollama_server: Any
) -> None:
    args = new_chat("hello there")
    first = await handle_message(service_settings, args, turn_key="k2")
    async with await Store.open(service_settings.db_path) as store:
        await store._db.execute("DELETE FROM turn_results")
        await store._db.commit()
    requests = len(ollama_server.chat_requests)
    again = await handle_message(service_settings, args, turn_key="k2")
    assert len(ollama_server.chat_requests) == requests
    assert again["responses"] == first["responses"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"chat_id": "chat-x", "message": "hi"}, "a new chat needs its scorecard and score"),
        ({"chat_id": "chat-x", "message": "hi", "scorecard": "Customer Service QA",
          "score": "nope"}, "No score matches"),
        ({"chat_id": "chat-x", "message": "  "}, "The message is empty"),
        ({"chat_id": "chat-x", "message": "x" * (MAX_MESSAGE_CHARS + 1)}, "the limit is 100,000"),
        ({"chat_id": "chat-x", "message": 5}, "message must be a string"),
        ({"chat_id": None, "message": "hi"}, "chat_id is required"),
        ({"chat_id": "*", "message": "hi"}, "chat_id must be up to 64 letters"),
        ({"chat_id": "../x", "message": "hi"}, "chat_id must be up to 64 letters"),
        ({"chat_id": "chat-x", "message": "hi", "score": ["a"]}, "score must be a string"),
        ({"chat_id": "chat-x", "message": "hi", "evil": 1}, "Unknown argument 'evil'"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_result_with_one_sentence(
    service_settings: Settings, args: dict[str, Any], says: str
) -> None:
    result = await handle_message(service_settings, args)
    assert says in result["error"]
    assert result["responses"] == [{"type": "error", "content": result["error"]}]
    assert len(result["message"]) <= 1001 and "Traceback" not in str(result)


async def test_messages_of_one_chat_run_one_at_a_time_in_order(
    service_settings: Settings, ollama_server: Any
) -> None:
    first = await handle_message(service_settings, new_chat("hello"), turn_key="a0")
    chat_id = first["chat_id"]
    ollama_server.queue(Step(text="slow first reply " * 20, delay=0.01), Step(text="second reply"))
    one = asyncio.create_task(handle_message(
        service_settings, {"chat_id": chat_id, "message": "first"}, turn_key="a1"))  # fmt: skip
    await asyncio.sleep(0.05)
    two = asyncio.create_task(handle_message(
        service_settings, {"chat_id": chat_id, "message": "second"}, turn_key="a2"))  # fmt: skip
    r1, r2 = await asyncio.gather(one, two)
    assert r1["responses"][0]["content"].startswith("slow first reply")
    assert r2["responses"][0]["content"] == "second reply"
    async with await Store.open(service_settings.db_path) as store:
        roles = [(m.role, m.text[:6]) for m in await store.messages(chat_id)]
    assert roles[2:] == [("user", "first"), ("assistant", "slow f"),
                         ("user", "second"), ("assistant", "second")]  # fmt: skip
    # The second turn saw the first one's reply.
    assert "slow first reply" in str(ollama_server.chat_requests[-1]["messages"])


async def test_progress_is_reported_while_the_turn_runs(
    service_settings: Settings, ollama_server: Any
) -> None:
    seen: list[dict[str, Any]] = []
    ollama_server.queue(Step(text="word " * 60, delay=0.01))
    await handle_message(service_settings, new_chat("go"), progress=seen.append)
    assert seen[0]["stage"] == "waiting" and seen[1]["stage"] == "running"
    replies = [p["reply"] for p in seen if p["reply"]]
    assert len(replies) >= 2 and replies[0] != replies[-1]
    assert set(seen[-1]) == {"chat_id", "stage", "reply", "tool_calls", "files_changed"}
    edit: list[dict[str, Any]] = []
    await handle_message(service_settings, new_chat("set model_name to x"), progress=edit.append)
    assert edit[-1]["files_changed"] == [GREETING]
    assert edit[-1]["tool_calls"][0] == {"command": "str_replace", "path": GREETING,
                                         "done": True, "is_error": False}  # fmt: skip


async def test_the_time_limit_cancels_the_turn_as_esc_does(
    service_settings: Settings, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="word " * 400, delay=0.01))
    result = await handle_message(service_settings, new_chat("go"), time_limit=0.5)
    assert "longer than the task's limit of 0.5 s" in result["responses"][-1]["content"]
    async with await Store.open(service_settings.db_path) as store:
        reply = next(m for m in await store.messages(result["chat_id"]) if m.role == "assistant")
    assert reply.status == "interrupted" and reply.text.startswith("word word")


async def test_end_session_marks_the_chat_ended_and_keeps_it(service_settings: Settings) -> None:
    first = await handle_message(service_settings, new_chat("hello"))
    ended = await end_session(service_settings, first["chat_id"])
    assert ended == {"chat_id": first["chat_id"], "status": "success",
                     "message": f"Chat {first['chat_id']} ended; it is kept."}  # fmt: skip
    async with await Store.open(service_settings.db_path) as store:
        record = await store.get_session(first["chat_id"])
    assert record is not None and record.status == "ended" and record.message_count == 2
    assert (await end_session(service_settings, "chat-unknown"))["status"] == "warning"
    assert (await end_session(service_settings, None))["status"] == "error"
    # An ended chat can still be continued.
    more = await handle_message(service_settings, {"chat_id": first["chat_id"], "message": "again"})
    assert "error" not in more


def test_a_ticket_of_a_dead_process_is_stale_at_once() -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)  # fmt: skip
    dead = f"{socket.gethostname()}|{done.stdout.strip()}|x"
    assert owner_is_gone(dead, time.time())
    assert not owner_is_gone(f"{socket.gethostname()}|{os.getppid()}|x", time.time())
    assert not owner_is_gone("other-host|1|x", time.time())
    assert owner_is_gone("other-host|1|x", time.time() - 3600)
