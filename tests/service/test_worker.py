"""Service mode end to end: real Redis, real ``scorechat worker`` processes (Celery's
prefork pool), the loopback Ollama server as the model, and clients written as a
caller of the Plexus score chat API writes them."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

from tests.fakes.steps import Step
from tests.service.conftest import Service, kill_turn, slow_edit_turn, wait_until

GREETING = "Customer Service QA/Greeting.yaml"
KEYS = {"chat_id", "message", "responses", "changes", "usage", "logs"}


def _rows(service: Service, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(service.home / "data" / "scorechat.db")
    try:
        return list(db.execute(sql, params))
    finally:
        db.close()


def test_a_chat_continues_on_another_worker_process(service: Service, ollama_server: Any) -> None:
    from worker import generate_chat_id

    celery_app = service.client()
    chat_id = generate_chat_id()
    first_worker = service.start("w1@hostA")
    result = celery_app.send_task(
        "scorechat.message",
        kwargs={"chat_id": chat_id, "message": "set model_name to gpt-4o",
                "scorecard": "Customer Service QA", "score": "Greeting",
                "task_id": "dashboard-task-1"},
    ).get(timeout=60)  # fmt: skip
    assert set(result) == KEYS | {"task_id"} and result["task_id"] == "dashboard-task-1"
    assert [r["type"] for r in result["responses"]] == ["ai_message", "tool_result", "ai_message"]
    assert result["responses"][1]["tool"] == "str_replace_editor"
    wait_until(lambda: "succeeded" in first_worker.text())
    first_worker.stop()

    second_worker = service.start("w2@hostB")
    follow = celery_app.send_task(
        "scorechat.message", kwargs={"chat_id": chat_id, "message": "set model_name to gpt-4.1"}
    ).get(timeout=60)
    assert follow["changes"][0]["key_paths"] == ["model_name"]
    wait_until(lambda: "succeeded" in second_worker.text())
    assert "model_name: gpt-4.1\n" in (service.workspace / GREETING).read_text()
    # The second process saw the first one's turn.
    assert "set model_name to gpt-4o" in json.dumps(ollama_server.chat_requests[-1]["messages"])

    ended = celery_app.send_task("scorechat.end_session", kwargs={"chat_id": chat_id}).get(60)
    assert ended["status"] == "success" and ended["chat_id"] == chat_id
    unknown = celery_app.send_task("scorechat.end_session", kwargs={"chat_id": "chat-x"}).get(60)
    assert unknown["status"] == "warning"
    # The CLI sees the worker's chat like any other session.
    listed = __import__("subprocess").run(
        [__import__("sys").executable, "-m", "tui.cli", "sessions", "list", "--json"],
        capture_output=True, text=True, env=service.env(), timeout=60,
    )  # fmt: skip
    sessions = {s["id"]: s for s in json.loads(listed.stdout)}
    assert sessions[chat_id]["status"] == "ended" and sessions[chat_id]["message_count"] == 6


def test_two_messages_at_once_take_turns_in_order(service: Service, ollama_server: Any) -> None:
    from worker import generate_chat_id

    celery_app = service.client()
    service.start("w1@hostA", concurrency=2)
    chat_id = generate_chat_id()
    celery_app.send_task("scorechat.message", kwargs={
        "chat_id": chat_id, "message": "hello", "scorecard": "customer", "score": "greeting",
    }).get(timeout=60)  # fmt: skip
    ollama_server.queue(Step(text="first answer " * 40, delay=0.01), Step(text="second answer"))
    one = celery_app.send_task("scorechat.message", kwargs={"chat_id": chat_id, "message": "one"})
    time.sleep(0.1)
    two = celery_app.send_task("scorechat.message", kwargs={"chat_id": chat_id, "message": "two"})
    first, second = one.get(timeout=60), two.get(timeout=60)
    assert first["responses"][0]["content"].startswith("first answer")
    assert second["responses"][0]["content"] == "second answer"
    roles = _rows(service, "SELECT role, substr(text, 1, 6) FROM messages WHERE session_id = ?"
                  " ORDER BY id", chat_id)  # fmt: skip
    assert roles[2:] == [("user", "one"), ("assistant", "first "),
                         ("user", "two"), ("assistant", "second")]  # fmt: skip
    assert "first answer" in json.dumps(ollama_server.chat_requests[-1]["messages"])


def test_bad_input_comes_back_as_one_sentence(service: Service) -> None:
    celery_app = service.client()
    service.start("w1@hostA")
    cases = [
        ({"chat_id": "chat-new", "message": "hi"}, "needs its scorecard and score"),
        ({"chat_id": "chat-new", "message": "hi", "scorecard": "customer", "score": "zzz"},
         "No score matches"),
        ({"chat_id": "chat-new", "message": ""}, "The message is empty"),
        ({"chat_id": "chat-new", "message": "x" * 100_001}, "the limit is 100,000"),
        ({"chat_id": 7, "message": "hi"}, "chat_id is required"),
        ({"chat_id": "chat-new", "message": {"a": 1}}, "message must be a string"),
        ({"chat_id": "chat-new", "message": "hi", "scorecard": "../..", "score": "/etc/passwd"},
         "No scorecard matches"),
    ]  # fmt: skip
    pending = [(celery_app.send_task("scorechat.message", kwargs=k), says) for k, says in cases]
    pending.append(
        (celery_app.send_task("scorechat.message", args=["chat-new", "hi"]), "by name (kwargs)")
    )
    for task, says in pending:
        result = task.get(timeout=60)
        assert says in result["error"], result["error"]
        assert result["responses"][-1]["type"] == "error"
        assert "Traceback" not in json.dumps(result)
    assert not (service.home / "data" / "scorechat.db").exists() or _rows(
        service, "SELECT count(*) FROM sessions"
    ) == [(0,)]


def test_a_pickled_message_is_refused(service: Service) -> None:
    worker = service.start("w1@hostA")
    sender = service.client()
    sender.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])
    pickled = sender.send_task(
        "scorechat.message", kwargs={"chat_id": "chat-p", "message": "hi",
                                     "scorecard": "customer", "score": "greeting"},
    )  # fmt: skip
    wait_until(lambda: "pickle" in worker.text() and "ContentDisallowed" in worker.text(), 30)
    assert pickled.state == "PENDING"  # never run
    # The worker goes on serving JSON messages; the pickled one left no trace.
    ok = service.client().send_task(
        "scorechat.message", kwargs={"chat_id": "chat-j", "message": "hi",
                                     "scorecard": "customer", "score": "greeting"},
    ).get(timeout=60)  # fmt: skip
    assert "error" not in ok
    assert _rows(service, "SELECT id FROM sessions") == [("chat-j",)]


@pytest.mark.slow
def test_a_worker_killed_mid_turn_has_the_message_answered_once(
    service: Service, ollama_server: Any
) -> None:
    worker = service.start("w1@hostA")
    before = (service.workspace / GREETING).read_text()
    # The first delivery streams slowly (a poller sees its progress); the kill lands
    # while it streams.
    task = slow_edit_turn(service, ollama_server, "chat-kill")
    kill_turn(
        _rows(service, "SELECT owner FROM chat_queue WHERE chat_id = 'chat-kill'")[0][0], worker
    )
    result = task.get(timeout=90)
    assert "error" not in result, result
    assert any("continued here" in line for line in result["logs"])
    after = (service.workspace / GREETING).read_text()
    assert after in (before, before.replace("model_name: gpt-4o-mini", "model_name: gpt-4o"))
    users = _rows(service, "SELECT count(*) FROM messages WHERE session_id = 'chat-kill'"
                  " AND role = 'user'")  # fmt: skip
    assert users == [(1,)]
    complete = _rows(service, "SELECT count(*) FROM messages WHERE session_id = 'chat-kill'"
                     " AND role = 'assistant' AND status = 'interrupted'")  # fmt: skip
    assert complete == [(1,)]  # the cut reply is kept, marked
    assert _rows(service, "SELECT count(*) FROM edits WHERE session_id = 'chat-kill'") == [(1,)]
    assert _rows(service, "SELECT count(*) FROM chat_queue") == [(0,)]
    assert "model_name: gpt-4o\n" in after


def test_message_through_the_broker_from_the_cli(service: Service) -> None:
    import subprocess
    import sys

    service.start("w1@hostA")
    cmd = [sys.executable, "-m", "tui.cli", "message", "set model_name to gpt-4o", "--scorecard",
           "customer", "--score", "greeting", "--broker", service.broker_url, "--json"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=service.env(), timeout=90)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == KEYS and result["chat_id"].startswith("chat-")
    assert result["changes"][0]["key_paths"] == ["model_name"]
    # The same JSON shape as the in-process turn.
    local = subprocess.run(
        [sys.executable, "-m", "tui.cli", "message", "hello", "--session", result["chat_id"],
         "--json"], capture_output=True, text=True, env=service.env(), timeout=90,
    )  # fmt: skip
    assert set(json.loads(local.stdout)) == KEYS


def test_no_worker_or_no_broker_is_one_sentence(service: Service) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "tui.cli", "message", "hi", "-c", "customer", "-s", "greeting"]
    idle = subprocess.run([*base, "--broker", service.broker_url], capture_output=True,
                          text=True, env=service.env(), timeout=60)  # fmt: skip
    assert idle.returncode == 1
    assert "No scorechat worker answers on the broker" in idle.stderr
    secret = "redis://:hunter2@127.0.0.1:9/0"
    down = subprocess.run([*base, "--broker", secret], capture_output=True, text=True,
                          env=service.env(), timeout=60)  # fmt: skip
    assert down.returncode == 1 and "does not answer" in down.stderr
    assert "hunter2" not in down.stderr + down.stdout
    assert len(down.stderr.strip().splitlines()) == 1
