"""End to end: the installed ``scorechat`` in a real pseudo-terminal against the loopback
Ollama server. The screen is read back through a terminal emulator (pyte)."""

from __future__ import annotations

import os
import sys
import time
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
    with Terminal([scorechat_command(), "--score", "greeting"], env, cols=COLS, rows=ROWS) as term:
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
        # A paste the terminal does not bracket arrives as keys, each line's end an Enter
        # (one write here, as a terminal's paste is): it stays one message in the prompt,
        # sent by the person's own Enter.
        asked = len(ollama_server.chat_requests)
        term.send("first pasted line\rsecond pasted line\rthird pasted line")
        term.wait_for("third pasted line")
        time.sleep(0.5)
        assert len(ollama_server.chat_requests) == asked
        term.send("\r")
        deadline = time.monotonic() + 20
        while len(ollama_server.chat_requests) == asked and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = ollama_server.chat_requests[-1]["messages"][-1]
        assert sent["content"].endswith("first pasted line\nsecond pasted line\nthird pasted line")
        term.wait_for("qwen3:8b  ready")
        term.quit()
    assert "Traceback" not in term.text()


HANG_UPS = 5


def _hang_up_once(home: Path, workspace: Path) -> None:
    import select
    import signal

    from ptyprocess import PtyProcess

    env = {
        **os.environ,
        "OLLAMA_HOST": "http://127.0.0.1:9",
        "TERM": "xterm-256color",
        "SCORECHAT_WORKSPACE": str(workspace),
        "SCORECHAT_HOME": str(home),
    }
    process = PtyProcess.spawn(
        [scorechat_command(), "--score", "greeting"],
        env=env,
        dimensions=(ROWS, COLS),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        seen = b""
        deadline = time.monotonic() + 20
        while b"Greeting" not in seen and time.monotonic() < deadline:
            if select.select([process.fd], [], [], 0.1)[0]:
                try:
                    seen += process.read(65536)
                except EOFError:
                    break
        assert b"Greeting" in seen, "the app never drew its screen"
        process.fileobj.close()  # the terminal window is closed
        deadline = time.monotonic() + 15
        while process.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process.isalive(), "the app kept running after its terminal went away"
        assert process.exitstatus == 0
    finally:
        if process.isalive():
            process.kill(signal.SIGKILL)


@pytest.mark.slow
def test_the_app_quits_when_its_terminal_goes_away(workspace: Path, tmp_path: Path) -> None:
    """Under nohup (SIGHUP ignored) a closed terminal only reports a hang-up on its input;
    the app must notice and quit rather than poll the dead terminal forever. It quits by
    its own shutdown: the hang-up's SIGCONT once made Textual start a second output
    thread, and one quit in five hung until the stuck-shutdown ender ended the process."""
    home = tmp_path / "home"
    for _ in range(HANG_UPS):
        _hang_up_once(home, workspace)
    log = (home / "logs" / "scorechat.log").read_text()
    assert log.count("the terminal went away; quitting") == HANG_UPS
    assert "did not finish quitting" not in log


def test_an_editor_that_cannot_run_leaves_the_app_working(workspace: Path, tmp_path: Path) -> None:
    """F7 with a $EDITOR that does not exist: Textual resumes the app only when the
    suspended block ends normally, so a failure there once left a blank, dead screen."""
    env = {
        **os.environ,
        "EDITOR": "no-such-editor --wait",
        "VISUAL": "",
        "TERM": "xterm-256color",
        "SCORECHAT_WORKSPACE": str(workspace),
        "SCORECHAT_HOME": str(tmp_path / "home"),
    }
    script = tmp_path / "script.json"
    script.write_text('[[{"type": "text", "text": "The app answers."}]]')
    args = ["--score", "greeting", "--provider", "scripted", "--script", str(script)]
    with Terminal([scorechat_command(), *args], env, cols=COLS, rows=ROWS) as term:
        term.wait_for("No changes since the session started")
        term.send("\x1b[18~")  # F7: open the score in $EDITOR
        term.wait_for("'no-such-editor --wait' did not run cleanly")
        term.send("still here\r")  # the app is back: a message is sent and answered
        term.wait_for("The app answers.")
        term.quit()


def test_a_continue_signal_resumes_only_after_a_suspension() -> None:
    """Textual's SIGCONT handler (which enters application mode) runs after its own
    SIGTSTP handler, with the terminal there and not lent to the F7 editor; never for
    a stray SIGCONT nor the one a hang-up brings."""
    import pty
    import signal
    import tty

    from tui.app import guard_resume

    calls: list[str] = []
    lent = [False]
    before = {
        signal.SIGTSTP: signal.signal(signal.SIGTSTP, lambda *_: calls.append("suspend")),
        signal.SIGCONT: signal.signal(signal.SIGCONT, lambda *_: calls.append("resume")),
    }
    main, follower = pty.openpty()
    tty.setraw(follower)  # as the app leaves its terminal
    try:
        guard_resume(follower, lambda: lent[0])
        os.kill(os.getpid(), signal.SIGCONT)  # stray: kill -CONT
        assert calls == []
        os.kill(os.getpid(), signal.SIGTSTP)
        os.kill(os.getpid(), signal.SIGCONT)  # fg after Ctrl+Z
        assert calls == ["suspend", "resume"]
        os.kill(os.getpid(), signal.SIGCONT)  # once only
        lent[0] = True
        os.kill(os.getpid(), signal.SIGTSTP)
        os.kill(os.getpid(), signal.SIGCONT)  # the editor has the terminal
        assert calls == ["suspend", "resume", "suspend"]
        lent[0] = False
        os.close(main)  # the terminal goes away
        os.kill(os.getpid(), signal.SIGCONT)
        assert calls == ["suspend", "resume", "suspend"]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        os.close(follower)


def test_the_app_comes_back_whole_from_a_stop_and_a_stray_continue(
    workspace: Path, tmp_path: Path
) -> None:
    """In a shell with job control: ``kill -STOP`` then ``fg`` (the shell takes the
    terminal back meanwhile) and stray ``kill -CONT``s. Keys reach the prompt after
    each, and Ctrl+Q quits: a stray SIGCONT used to leave a second output thread, and
    the quit then hung for ever."""
    import signal

    env = {
        **os.environ,
        "OLLAMA_HOST": "http://127.0.0.1:9",
        "TERM": "xterm-256color",
        "SCORECHAT_WORKSPACE": str(workspace),
        "SCORECHAT_HOME": str(tmp_path / "home"),
        "PS1": "shell$ ",
    }
    with Terminal(["/bin/bash", "--norc", "--noprofile", "-i"], env, cols=COLS, rows=ROWS) as term:
        term.wait_for("shell$")
        term.send(f"{scorechat_command()} --score greeting\r")
        term.wait_for("No changes since the session started")
        # The shell's own child: other tests may run an app with these arguments too.
        app = int(pexpect.run(f"pgrep -P {term.child.pid}").split()[0])
        for _ in range(10):
            os.kill(app, signal.SIGCONT)
            time.sleep(0.05)
        term.send("first")
        term.wait_for("│ first")
        os.kill(app, signal.SIGSTOP)
        term.wait_for("Stopped")
        term.send("fg\r")
        deadline = time.monotonic() + 20  # the app draws its whole screen again
        while "Stopped" in term.text() and time.monotonic() < deadline:
            time.sleep(0.05)
        term.wait_for("│ first")
        time.sleep(0.5)  # keys typed while it takes the terminal back are dropped
        term.send(" second")
        term.wait_for("│ first second")
        term.send("\x11")
        term.wait_for("shell$", timeout=15)
