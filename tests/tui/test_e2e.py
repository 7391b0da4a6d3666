"""End to end: the installed ``scorechat`` in a real pseudo-terminal against the loopback
Ollama server. The screen is read back through a terminal emulator (pyte)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

COLS, ROWS = 140, 42
GREETING = "Customer Service QA/Greeting.yaml"


def scorechat_command() -> str:
    candidate = Path(sys.executable).parent / "scorechat"
    if not candidate.exists():
        pytest.skip("the scorechat console script is not installed in this environment")
    return str(candidate)


def test_chat_with_loopback_ollama_in_a_real_terminal(
    workspace: Path, tmp_path: Path, ollama_server: Any
) -> None:
    env = {
        **os.environ,
        "OLLAMA_HOST": ollama_server.url,
        "TERM": "xterm-256color",
        "SCORECHAT_WORKSPACE": str(workspace),
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
    }
    term = Terminal([scorechat_command(), "--score", "greeting"], env, cols=COLS, rows=ROWS)
    try:
        term.wait_for("qwen3:8b")
        term.wait_for("Ask anything about Greeting")
        term.send("set model_name to gpt-4.1")
        term.send("\r")
        screen = term.wait_for("Done.")
        screen = term.wait_for("+model_name: gpt-4.1")
        assert "-model_name: gpt-4o-mini" in screen
        assert "model_name" in screen and "changed keys" in screen
        assert "model_name: gpt-4.1\n" in (workspace / GREETING).read_text()
        # The reply is on screen before the turn has stored it; undo waits for the turn's end
        # (pressed earlier it says "Wait for the turn to finish"), as a person sees in the status.
        term.wait_for("qwen3:8b  ready")
        term.send("\x12")  # ctrl+r: undo the edit (the footer's "Undo edit")
        term.wait_for("No changes since the session started")
        assert "model_name: gpt-4o-mini\n" in (workspace / GREETING).read_text()
        term.send("\x11")  # ctrl+q
        term.child.expect(pexpect.EOF, timeout=10)
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert "Traceback" not in term.text()
