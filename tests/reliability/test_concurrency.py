"""Several processes share one database and workspace: no lock errors, nothing lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.editor_tool import EditorTool
from tests.cli.helpers import scripted_message

ROOT = Path(__file__).resolve().parents[2]
GREETING = "Customer Service QA/Greeting.yaml"
PROCESSES = 3
TURNS_EACH = 12


def _script(tmp_path: Path, turns: int) -> Path:
    path = tmp_path / f"script-{turns}.json"
    path.write_text(
        json.dumps([[{"type": "text", "text": f"reply {i} " + "word " * 40}] for i in range(turns)])
    )
    return path


@pytest.mark.slow
def test_processes_share_one_database(workspace: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_WORKSPACE": str(workspace)}
    code = (
        "import subprocess, sys, json\n"
        "script, turns, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
        "sid = None\n"
        "for i in range(turns):\n"
        "    args = [sys.executable, '-m', 'tui.cli', 'message', f'{tag} turn {i}', '--provider', 'scripted', '--script', script, '--json']\n"
        "    args += ['--session', sid] if sid else ['--score', 'greeting']\n"
        "    out = subprocess.run(args, capture_output=True, text=True)\n"
        "    if out.returncode != 0: print(out.stderr, file=sys.stderr); sys.exit(1)\n"
        "    sid = json.loads(out.stdout)['chat_id']\n"
    )
    # Each turn of a session plays the script's next reply: one script per worker, per turn count.
    workers = []
    for n in range(PROCESSES):
        script = tmp_path / f"w{n}.json"
        script.write_text(json.dumps([[{"type": "text", "text": f"reply {n} " + "word " * 40}]]))
        workers.append(subprocess.Popen([sys.executable, "-c", code, str(script), str(TURNS_EACH), f"w{n}"],
                                        env=env, stderr=subprocess.PIPE, text=True))  # fmt: skip
    errors = [w.communicate(timeout=300)[1] for w in workers]
    assert all(w.returncode == 0 for w in workers), errors
    assert not any("locked" in e for e in errors)
    db = tmp_path / "home" / "data" / "scorechat.db"
    with sqlite3.connect(db) as conn:
        users = [r[0] for r in conn.execute("SELECT text FROM messages WHERE role = 'user'")]
        replies = conn.execute(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"
        ).fetchone()[0]
    assert sorted(users) == sorted(
        f"w{n} turn {i}" for n in range(PROCESSES) for i in range(TURNS_EACH)
    )
    assert replies == PROCESSES * TURNS_EACH


async def test_edit_applies_to_the_current_text_and_says_so(workspace: Path) -> None:
    first, second = EditorTool(workspace), EditorTool(workspace)
    await first.run({"command": "view", "path": GREETING})
    await second.run(
        {"command": "str_replace", "path": GREETING, "old_str": "days: 90", "new_str": "days: 30"}
    )
    result = await first.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 5"}
    )
    assert not result.is_error
    assert "changed since you last viewed it" in result.text
    text = (workspace / GREETING).read_text()
    assert "days: 30" in text and "limit: 5" in text  # neither edit was lost


async def test_undo_refuses_after_another_session_edited(workspace: Path) -> None:
    first, second = EditorTool(workspace), EditorTool(workspace)
    await first.run(
        {"command": "str_replace", "path": GREETING, "old_str": "days: 90", "new_str": "days: 30"}
    )
    await second.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 5"}
    )
    before = (workspace / GREETING).read_bytes()
    result = await first.run({"command": "undo_edit", "path": GREETING})
    assert result.is_error and "changed since that edit" in result.text
    assert (workspace / GREETING).read_bytes() == before


def test_a_writer_waits_for_another_process_holding_the_lock(
    workspace: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_WORKSPACE": str(workspace)}
    script = _script(tmp_path, 1)
    first = subprocess.run(
        [sys.executable, "-m", "tui.cli", *scripted_message("hello", script)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    chat_id = json.loads(first.stdout)["chat_id"]
    db = tmp_path / "home" / "data" / "scorechat.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(2); c.execute('COMMIT')\n"
    ), str(db)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    renamed = subprocess.run(
        [sys.executable, "-m", "tui.cli", "sessions", "rename", chat_id, "Renamed while locked"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    holder.wait(10)
    assert renamed.returncode == 0, renamed.stderr
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute("SELECT title FROM sessions WHERE id = ?", (chat_id,)).fetchone()[0]
            == "Renamed while locked"
        )
