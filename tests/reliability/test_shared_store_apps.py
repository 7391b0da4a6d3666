"""Two people's apps, each in a real pseudo-terminal with a home of its own, on one
PostgreSQL store: each finds the other's session in the browser and resumes it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]


def _app(tmp_path: Path, who: str, workspace: Path, pg_url: str, score: str) -> Terminal:
    script = tmp_path / f"{who}.json"
    script.write_text(json.dumps([[{"type": "text", "text": f"reply to {who} zq{who}"}]] * 3))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCORECHAT_")},
        "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
        "SCORECHAT_HOME": str(tmp_path / f"{who}-home"), "SCORECHAT_WORKSPACE": str(workspace),
        "SCORECHAT_DB": pg_url,
    }  # fmt: skip
    binary = Path(sys.executable).parent / "scorechat"
    return Terminal([str(binary), "--score", score, "--provider", "scripted", "--script",
                     str(script)], env)  # fmt: skip


def test_two_apps_on_one_postgres_see_each_others_sessions(
    workspace: Path, tmp_path: Path, pg_url: str
) -> None:
    if not (Path(sys.executable).parent / "scorechat").exists():
        pytest.skip("the scorechat console script is not installed in this environment")
    with (
        _app(tmp_path, "ann", workspace, pg_url, "greeting") as ann,
        _app(tmp_path, "bob", workspace, pg_url, "senti") as bob,
    ):
        for term, who in ((ann, "ann"), (bob, "bob")):
            term.wait_for("Ask anything", 30)
            term.send(f"question from {who} about thresholds\r")
            term.wait_for(f"zq{who}", 30)
        # Bob opens the sessions browser and searches for Ann's words.
        bob.send("\x02")  # Ctrl+B
        bob.wait_for("Search every message", 20)
        bob.send("question from ann")
        bob.wait_for("user: question from ann", 20)  # the search's hit, not the whole list
        bob.send("\r")  # resume the hit
        screen = bob.wait_for("zqann", 20)
        assert "question from ann about thresholds" in screen
        # Ann, meanwhile, sees Bob's session in hers.
        ann.send("\x02")
        ann.wait_for("Search every message", 20)
        ann.send("bob")
        ann.wait_for("user: question from bob", 20)
        for term in (ann, bob):
            term.send("\x1b")
            term.quit(timeout=15)
    for who in ("ann", "bob"):  # nothing was kept in either home's own store
        assert not (tmp_path / f"{who}-home" / "data" / "scorechat.db").exists()
