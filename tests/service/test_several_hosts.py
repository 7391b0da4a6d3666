"""Workers on several hosts sharing one PostgreSQL store and one workspace folder.

Each worker is named as a host of its own (``w1@hostA``, ``w2@hostB``) and has its own
``SCORECHAT_HOME``: what they have in common is only the database URL, the workspace
and the broker, as on machines that share a database server and a mounted folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import Service, kill_turn, slow_edit_turn, wait_until

psycopg = pytest.importorskip("psycopg", reason="pip install 'scorechat[postgres]' for these tests")

GREETING = "Customer Service QA/Greeting.yaml"


def _rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def _hosts(tmp_path: Path) -> tuple[Path, Path]:
    """Each host's own home (its logs, its config; no store of its own)."""
    return tmp_path / "hostA-home", tmp_path / "hostB-home"


def test_two_hosts_alternate_the_messages_of_one_chat(
    service: Service, ollama_server: Any, pg_url: str, tmp_path: Path
) -> None:
    home_a, home_b = _hosts(tmp_path)
    service.start("w1@hostA", home=home_a, queues="hostA", SCORECHAT_DB=pg_url)
    service.start("w2@hostB", home=home_b, queues="hostB", SCORECHAT_DB=pg_url)
    celery_app = service.client()
    chat_id = "chat-two-hosts"
    words = ["one", "two", "three", "four"]
    for n, word in enumerate(words):
        kwargs = {"chat_id": chat_id, "message": f"message {word}"}
        if n == 0:
            kwargs.update(scorecard="Customer Service QA", score="Greeting")
        result = celery_app.send_task(
            "scorechat.message", kwargs=kwargs, queue="hostA" if n % 2 == 0 else "hostB"
        ).get(timeout=60)
        assert "error" not in result, result
        # Each host's model request held the whole history so far.
        sent = json.dumps(ollama_server.chat_requests[-1]["messages"])
        assert all(f"message {w}" in sent for w in words[: n + 1])
    users = _rows(pg_url, "SELECT text FROM messages WHERE session_id = %s AND role = 'user'"
                  " ORDER BY id", chat_id)  # fmt: skip
    assert [t for (t,) in users] == [f"message {w}" for w in words]  # nothing lost or doubled
    roles = _rows(pg_url, "SELECT role FROM messages WHERE session_id = %s ORDER BY id", chat_id)
    assert [r for (r,) in roles] == ["user", "assistant"] * 4
    for home in (home_a, home_b):  # neither host kept a store of its own
        assert not (home / "data" / "scorechat.db").exists()
    ended = celery_app.send_task("scorechat.end_session", kwargs={"chat_id": chat_id},
                                 queue="hostB").get(timeout=60)  # fmt: skip
    assert ended["status"] == "success"
    assert _rows(pg_url, "SELECT status FROM sessions WHERE id = %s", chat_id) == [("ended",)]


def test_a_host_killed_mid_turn_has_its_message_answered_once_by_the_other(
    service: Service, ollama_server: Any, pg_url: str, tmp_path: Path
) -> None:
    home_a, home_b = _hosts(tmp_path)
    first = service.start("w1@hostA", home=home_a, SCORECHAT_DB=pg_url)
    before = (service.workspace / GREETING).read_text()
    task = slow_edit_turn(service, ollama_server, "chat-kill")
    second = service.start("w2@hostB", home=home_b, SCORECHAT_DB=pg_url)
    # Host A takes no more messages, then its process running the turn dies (kill -9):
    # the message goes back to the queue, and only host B is there to take it.
    service.client().control.cancel_consumer("celery", destination=["w1@hostA"], reply=True)
    kill_turn(
        _rows(pg_url, "SELECT owner FROM chat_queue WHERE chat_id = 'chat-kill'")[0][0], first
    )
    result = task.get(timeout=90)
    assert "error" not in result, result
    assert any("continued here" in line for line in result["logs"])
    wait_until(lambda: "succeeded" in second.text())
    after = (service.workspace / GREETING).read_text()
    assert after == before.replace("model_name: gpt-4o-mini", "model_name: gpt-4o")
    count = "SELECT count(*) FROM {} WHERE session_id = 'chat-kill'"
    assert _rows(pg_url, count.format("messages") + " AND role = 'user'") == [(1,)]
    assert _rows(pg_url, count.format("messages") + " AND status = 'interrupted'") == [(1,)]
    assert _rows(pg_url, count.format("edits")) == [(1,)]
    assert _rows(pg_url, "SELECT count(*) FROM chat_queue") == [(0,)]
