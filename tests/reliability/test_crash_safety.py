"""kill -9 during a streamed turn that edits the file: nothing is lost or half-written."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.steps import Step

ROOT = Path(__file__).resolve().parents[2]
GREETING = "Customer Service QA/Greeting.yaml"
TRIALS = 20


def _env(workspace: Path, server: Any) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OLLAMA_HOST": server.url,
            "SCORECHAT_WORKSPACE": str(workspace)}  # fmt: skip


def _queue_turn(server: Any, trial: int) -> None:
    words = " ".join(f"w{trial}_{i}" for i in range(150))
    edit = {"name": "str_replace_editor", "input": {
        "command": "str_replace", "path": GREETING,
        "old_str": "  limit: 100" if trial % 2 == 0 else "  limit: 200",
        "new_str": "  limit: 200" if trial % 2 == 0 else "  limit: 100"}}  # fmt: skip
    server.queue(
        Step(text=words, delay=0.003, tool_calls=[edit]), Step(text="edited " + words, delay=0.003)
    )


@pytest.mark.slow
def test_kill_9_at_random_points(workspace: Path, tmp_path: Path, ollama_server: Any) -> None:
    rng = random.Random(20261122)
    db = tmp_path / "home" / "data" / "scorechat.db"
    path = workspace / GREETING
    valid_texts = {path.read_text()}
    valid_texts.add(path.read_text().replace("  limit: 100", "  limit: 200"))
    killed_mid_turn = 0
    leftovers = 0
    session_id: str | None = None
    for trial in range(TRIALS):
        ollama_server.steps.clear()
        _queue_turn(ollama_server, trial)
        args = [
            sys.executable,
            "-m",
            "tui.cli",
            "message",
            f"trial {trial}",
            "--provider",
            "ollama",
            "--json",
        ]
        args += ["--session", session_id] if session_id else ["--score", "greeting"]
        process = subprocess.Popen(
            args, env=_env(workspace, ollama_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.4, 1.6))
        if process.poll() is None:
            killed_mid_turn += 1
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        # The file is exactly one of the two states, never truncated or mixed.
        assert path.read_text() in valid_texts, f"trial {trial}: the score file is damaged"
        # A kill between the temp file's creation and its rename leaves it: the next
        # write of the file removes it (below), nothing else is ever left.
        left = [p.name for p in path.parent.iterdir() if p.name.startswith(".")]
        assert all(re.fullmatch(r"\.Greeting\.yaml\.[a-z0-9_]{8}\.tmp", n) for n in left), left
        if left:
            leftovers += 1
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = conn.execute("SELECT id FROM sessions ORDER BY created_at").fetchall()
            if not rows:
                continue  # killed before the session was created
            session_id = rows[0][0]
            users = [
                r[0]
                for r in conn.execute(
                    "SELECT text FROM messages WHERE session_id = ? AND role = 'user' ORDER BY id",
                    (session_id,),
                )
            ]
            edits = conn.execute(
                "SELECT before, after FROM edits WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        assert len(set(users)) == len(users), "a user message was duplicated"
        # Every recorded edit goes from one whole state of the file to the other.
        for before, after in edits:
            assert before in valid_texts and after in valid_texts and before != after
    assert killed_mid_turn >= TRIALS // 2, "most kills should land inside a turn"
    assert session_id is not None
    # Every partial reply survives, and the session resumes and continues.
    ollama_server.steps.clear()
    old, new = ("  limit: 100", "  limit: 200")
    if old not in path.read_text():
        old, new = new, old
    ollama_server.queue(
        Step(tool_calls=[{"name": "str_replace_editor", "input": {
            "command": "str_replace", "path": GREETING, "old_str": old, "new_str": new}}]),
        Step(text="resumed fine"),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "message", "after the crashes", "--session", session_id,
         "--provider", "ollama", "--json"], env=_env(workspace, ollama_server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["responses"][-1]["content"] == "resumed fine"
    assert new in path.read_text()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], (
        f"a temp file was left ({leftovers} kills left one on the way)"
    )
    with sqlite3.connect(db) as conn:
        statuses = {
            r[0]
            for r in conn.execute("SELECT status FROM messages WHERE session_id = ?", (session_id,))
        }
        texts = [
            r[0]
            for r in conn.execute(
                "SELECT text FROM messages WHERE session_id = ? AND role = 'user'", (session_id,)
            )
        ]
    assert "partial" not in statuses  # resuming marked them interrupted
    assert "interrupted" in statuses
    assert texts[-1] == "after the crashes" and len(texts) >= TRIALS // 2
