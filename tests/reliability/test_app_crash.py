"""kill -9 the full-screen app in a real pseudo-terminal while a turn streams and edits."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.fakes.steps import Step

GREETING = "Customer Service QA/Greeting.yaml"
TRIALS = 20


@pytest.mark.slow
def test_kill_9_the_app_mid_turn(workspace: Path, tmp_path: Path, ollama_server: Any) -> None:
    binary = Path(sys.executable).parent / "scorechat"
    if not binary.exists():
        pytest.skip("the scorechat console script is not installed in this environment")
    rng = random.Random(7)
    path = workspace / GREETING
    states = {path.read_text(), path.read_text().replace("limit: 100", "limit: 200")}
    env = {
        **os.environ,
        "OLLAMA_HOST": ollama_server.url,
        "SCORECHAT_WORKSPACE": str(workspace),
        "TERM": "xterm-256color",
    }
    db = tmp_path / "home" / "data" / "scorechat.db"
    for trial in range(TRIALS):
        old, new = (
            ("limit: 100", "limit: 200")
            if "limit: 100" in path.read_text()
            else ("limit: 200", "limit: 100")
        )
        ollama_server.steps.clear()
        words = " ".join(f"t{trial}w{i}" for i in range(200))
        ollama_server.queue(
            Step(text=words, delay=0.004, tool_calls=[{"name": "str_replace_editor", "input": {
                "command": "str_replace", "path": GREETING, "old_str": old, "new_str": new}}]),
            Step(text="done " + words, delay=0.004),
        )  # fmt: skip
        child = pexpect.spawn(
            str(binary),
            ["--score", "greeting", "--provider", "ollama"],
            env=env,
            dimensions=(40, 120),
        )
        child.expect("Ask anything|You|Assistant", timeout=30)
        time.sleep(0.3)
        child.send(f"message {trial}\r")
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(child.pid, signal.SIGKILL)
        child.close(force=True)
        assert path.read_text() in states, f"trial {trial}: damaged score file"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            users = [
                r[0]
                for r in conn.execute("SELECT text FROM messages WHERE role = 'user' ORDER BY id")
            ]
            for before, after in conn.execute("SELECT before, after FROM edits"):
                assert before in states and after in states
        assert f"message {trial}" in users, f"trial {trial}: the user message was lost"
        assert len(users) == len(set(users))
