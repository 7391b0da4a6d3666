"""End to end: the installed ``scorechat`` in a real pseudo-terminal against the loopback
Ollama server. The screen is read back through a terminal emulator (pyte)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pyte
import pytest

pytestmark = pytest.mark.e2e

COLS, ROWS = 140, 42
GREETING = "Customer Service QA/Greeting.yaml"


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(args[0], args[1:], env=env, dimensions=(ROWS, COLS), timeout=5)

    def pump(self) -> None:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                return
            self.stream.feed(data)

    def text(self) -> str:
        self.pump()
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared on screen:\n{self.text()}")

    def send(self, keys: str) -> None:
        self.child.send(keys)


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
    term = Terminal([scorechat_command(), "--score", "greeting"], env)
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
        term.send("\x12")  # ctrl+r: undo the edit (the footer's "Undo edit")
        term.wait_for("No changes since the session started")
        assert "model_name: gpt-4o-mini\n" in (workspace / GREETING).read_text()
        term.send("\x11")  # ctrl+q
        term.child.expect(pexpect.EOF, timeout=10)
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert "Traceback" not in term.text()
