"""Two full-screen apps and the CLI on one database and workspace: 200 turns in all."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
APP_TURNS = 80
CLI_TURNS = 40


def _drive_app(
    binary: Path, env: dict[str, str], score: str, script: Path, tag: str, errors: list[str]
) -> None:
    term = Terminal([str(binary), "--score", score, "--provider", "scripted", "--script",
                     str(script)], env)  # fmt: skip
    with term:
        try:
            term.wait_for("Ask anything", 30)
            for i in range(APP_TURNS):
                term.send(f"{tag} turn {i}\r")
                term.wait_for(f"R{tag}x{i}z", 30)
                # The session list shows the new count when the turn has ended.
                term.wait_for(f"{2 * (i + 1)} msgs", 30)
            term.quit(timeout=15)
        except Exception as exc:  # report, do not hang the other threads
            errors.append(f"{tag}: {exc!r}")


@pytest.mark.slow
def test_two_apps_and_the_cli_share_everything(workspace: Path, tmp_path: Path) -> None:
    binary = Path(sys.executable).parent / "scorechat"
    if not binary.exists():
        pytest.skip("the scorechat console script is not installed in this environment")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCORECHAT_WORKSPACE": str(workspace),
        "TERM": "xterm-256color",
    }
    scripts = {}
    for tag in ("A", "B"):
        scripts[tag] = tmp_path / f"{tag}.json"
        scripts[tag].write_text(
            json.dumps([[{"type": "text", "text": f"R{tag}x{i}z done"}] for i in range(APP_TURNS)])
        )
    cli_script = tmp_path / "cli.json"
    cli_script.write_text(json.dumps([[{"type": "text", "text": "cli reply"}]]))
    cli_code = (
        "import subprocess, sys, json\n"
        "sid = None\n"
        f"for i in range({CLI_TURNS}):\n"
        "    args = [sys.executable, '-m', 'tui.cli', 'message', f'C turn {i}', '--provider', 'scripted', '--script', sys.argv[1], '--json']\n"
        "    args += ['--session', sid] if sid else ['--score', 'mini']\n"
        "    out = subprocess.run(args, capture_output=True, text=True)\n"
        "    if out.returncode != 0: print(out.stderr, file=sys.stderr); sys.exit(1)\n"
        "    sid = json.loads(out.stdout)['chat_id']\n"
    )
    cli = subprocess.Popen(
        [sys.executable, "-c", cli_code, str(cli_script)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    threads = [threading.Thread(target=_drive_app, args=(binary, env, score, scripts[tag], tag, errors))
               for tag, score in (("A", "greeting"), ("B", "senti"))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    cli_err = cli.communicate(timeout=300)[1]
    assert not errors, errors
    assert cli.returncode == 0 and "locked" not in cli_err, cli_err
    with sqlite3.connect(tmp_path / "home" / "data" / "scorechat.db") as conn:
        users = [r[0] for r in conn.execute("SELECT text FROM messages WHERE role = 'user'")]
        complete = conn.execute(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"
        ).fetchone()[0]
    expected = [f"{t} turn {i}" for t in ("A", "B") for i in range(APP_TURNS)] + [
        f"C turn {i}" for i in range(CLI_TURNS)
    ]
    assert len(expected) == 200
    assert sorted(users) == sorted(expected)
    assert complete == 200
