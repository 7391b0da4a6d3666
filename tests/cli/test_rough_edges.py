"""The command line's rough edges: pipes, plain search output, per-score version numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import ROOT, cli

GREETING = "Customer Service QA/Greeting.yaml"


def _scripted_turn(workspace: Path, tmp_path: Path, reply: str) -> str:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([[{"type": "text", "text": reply}]]))
    out = cli("-w", str(workspace), "message", "find the refund words", "--score", "greeting",
              "--provider", "scripted", "--script", str(script), "--json")  # fmt: skip
    return json.loads(out.stdout)["chat_id"]


def test_search_prints_plain_text_in_a_pipe(workspace: Path, tmp_path: Path) -> None:
    _scripted_turn(workspace, tmp_path, "The refund limit is fine.")
    result = cli("-w", str(workspace), "sessions", "search", "refund")
    assert result.returncode == 0 and "refund" in result.stdout
    assert "**" not in result.stdout and "\x1b" not in result.stdout


def test_output_cut_by_head_ends_quietly(workspace: Path, tmp_path: Path) -> None:
    for n in range(3):
        _scripted_turn(workspace, tmp_path, f"reply {n}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = (
        f"{sys.executable} -m tui.cli -w '{workspace}' sessions show "
        f"$({sys.executable} -m tui.cli -w '{workspace}' sessions list --json | "
        f"{sys.executable} -c 'import json,sys; print(json.load(sys.stdin)[0][\"id\"])') | head -1"
    )
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.startswith("# ")
    assert "BrokenPipe" not in result.stderr and "Traceback" not in result.stderr


def test_a_turn_whose_reader_left_goes_on_and_is_recorded_whole(
    workspace: Path, tmp_path: Path
) -> None:
    """``scorechat message ... | head`` with the reader gone before the reply: the turn
    failed with "Broken pipe" and left its reply 'partial', its edit never made."""
    script = tmp_path / "s.json"
    script.write_text(json.dumps([
        [{"type": "text", "text": "Raising it."}, {"type": "tool_use", "id": "t1",
          "name": "str_replace_editor", "input": {"command": "str_replace", "path": GREETING,
          "old_str": "limit: 100", "new_str": "limit: 200"}}],
        [{"type": "text", "text": "Done, the limit is 200."}],
    ]))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_WORKSPACE": str(workspace)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "message", "raise the limit", "--score", "greeting",
         "--provider", "scripted", "--script", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first word
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert b"Traceback" not in err and b"Broken pipe" not in err
    assert "limit: 200" in (workspace / GREETING).read_text()
    shown = cli("-w", str(workspace), "sessions", "list", "--json")
    session = json.loads(shown.stdout)[0]["id"]
    messages = json.loads(cli("sessions", "show", session, "--json").stdout)["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"), ("assistant", "complete"), ("tool", "complete"),
        ("assistant", "complete"),
    ]  # fmt: skip
    assert messages[-1]["text"] == "Done, the limit is 200."


def test_versions_are_numbered_per_score(workspace: Path) -> None:
    base = ["-w", str(workspace)]
    assert (
        "Saved version 1 of Customer Service QA / Greeting"
        in cli(*base, "versions", "save", "greeting", "-m", "first").stdout
    )
    assert (
        "Saved version 1 of Customer Service QA / Sentiment Analysis"
        in cli(*base, "versions", "save", "Sentiment Analysis", "-m", "senti").stdout
    )
    path = workspace / GREETING
    path.write_text(path.read_text().replace("limit: 100", "limit: 5"))
    assert "Saved version 2" in cli(*base, "versions", "save", "greeting", "-m", "second").stdout
    listed = cli(*base, "versions", "list", "greeting").stdout.splitlines()
    assert listed[0].split()[0] == "2" and "second" in listed[0]
    shown = cli(*base, "versions", "show", "greeting", "1")
    assert shown.returncode == 0 and "limit: 100" in shown.stdout
    senti = cli(*base, "versions", "show", "Sentiment Analysis", "1")
    assert "name: Sentiment Analysis" in senti.stdout
    missing = cli(*base, "versions", "show", "greeting", "3")
    assert missing.returncode == 2 and "has 2 saved versions, not 3" in missing.stderr
    restored = cli(*base, "versions", "restore", "greeting", "1")
    assert restored.returncode == 0 and "limit: 100" in path.read_text()
    # A score without its number: the sentence names the command that was typed.
    for command in ("show", "restore"):
        alone = cli(*base, "versions", command, "greeting")
        assert alone.returncode == 2 and f"(versions {command} SCORE N)" in alone.stderr


def test_continue_and_redo(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "e.json"
    script.write_text(json.dumps([
        [{"type": "tool_use", "name": "str_replace_editor", "input": {
            "command": "str_replace", "path": GREETING, "old_str": "limit: 100",
            "new_str": "limit: 9"}}],
        [{"type": "text", "text": "done"}],
    ]))  # fmt: skip
    out = cli("-w", str(workspace), "message", "lower it", "--score", "greeting", "--provider",
              "scripted", "--script", str(script), "--json")  # fmt: skip
    chat_id = json.loads(out.stdout)["chat_id"]
    assert cli("-w", str(workspace), "undo", "--session", chat_id).returncode == 0
    assert "limit: 100" in (workspace / GREETING).read_text()
    redone = cli("-w", str(workspace), "redo", "--session", chat_id)
    assert redone.returncode == 0 and "Redid" in redone.stdout
    assert "limit: 9" in (workspace / GREETING).read_text()
    nothing = cli("--home", str(tmp_path / "fresh"), "-w", str(workspace), "--continue")
    assert nothing.returncode == 2 and "no session to continue" in nothing.stderr


def test_twins_are_told_apart_in_did_you_mean(tmp_path: Path) -> None:
    card = tmp_path / "ws" / "Fixtures"
    card.mkdir(parents=True)
    for stem in ("Pseudo Extractor", "Two Stage Extractor"):
        (card / f"{stem}.yaml").write_text("name: Test Score\nclass: LangGraphScore\n")
    result = cli("-w", str(tmp_path / "ws"), "scores", "show", "Test Score")
    assert result.returncode == 2
    assert "(Fixtures/Pseudo Extractor.yaml)" in result.stderr
    assert "(Fixtures/Two Stage Extractor.yaml)" in result.stderr


def test_doctor_does_not_call_an_empty_workspace_ok(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "Card.yaml").write_text("name: Card\nscores: []\n")
    result = cli("-w", str(tmp_path / "flat"), "doctor")
    assert "[FAIL] workspace" in result.stdout and "no score files" in result.stdout
    assert result.returncode == 1


def test_control_characters_are_shown_on_a_terminal_and_kept_in_a_pipe(tmp_path: Path) -> None:
    """A score's name (from any file put in the workspace) can hold an escape sequence
    that retitles the window or recolours the screen: a terminal shows it as text."""
    import pexpect

    card = tmp_path / "ws" / "Card"
    card.mkdir(parents=True)
    (card / "Osc.yaml").write_text('name: "Title\x1b]0;pwned\x07"\nkey: osc\n')
    (card / "Red\x1b[31m.yaml").write_text("key: red\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_HOME": str(tmp_path / "home")}
    args = ["-m", "tui.cli", "-w", str(tmp_path / "ws"), "scores", "list"]
    terminal = pexpect.spawn(sys.executable, args, env=env, timeout=30)
    terminal.expect(pexpect.EOF)
    shown = terminal.before
    assert b"\x1b" not in shown and b"\x07" not in shown
    assert b"Title\\x1b]0;pwned\\x07" in shown and b"Red\\x1b[31m" in shown
    # An error sentence naming what was typed is shown the same way.
    typed = pexpect.spawn(sys.executable, [*args[:4], "check", "\x1b[2J"], env=env, timeout=30)
    typed.expect(pexpect.EOF)
    assert b"\x1b" not in typed.before and b"No score matches '\\x1b[2J'" in typed.before
    piped = subprocess.run([sys.executable, *args], env=env, capture_output=True, check=True)
    assert b"Title\x1b]0;pwned\x07" in piped.stdout  # a file or a pipe gets the bytes
    # The search's own bold still works; an escape sequence in a message is shown.
    script = tmp_path / "script.json"
    script.write_text('[[{"type": "text", "text": "noted"}]]')
    said = "remember \x1b]0;pwned\x07 this"
    subprocess.run(
        [sys.executable, *args[:4], "message", said, "--score", "osc", "--provider", "scripted",
         "--script", str(script)],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    search = pexpect.spawn(
        sys.executable, [*args[:4], "sessions", "search", "remember"], env=env, timeout=30
    )
    search.expect(pexpect.EOF)
    assert b"\x1b[1mremember\x1b[22m \\x1b]0;pwned\\x07 this" in search.before


def test_message_dash_typed_at_a_terminal_says_how_to_end_it(
    workspace: Path, tmp_path: Path
) -> None:
    import pexpect

    script = tmp_path / "script.json"
    script.write_text('[[{"type": "text", "text": "Got both lines."}]]')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_HOME": str(tmp_path / "home")}
    args = ["-m", "tui.cli", "-w", str(workspace), "message", "-", "--score", "greeting",
            "--provider", "scripted", "--script", str(script), "--json"]  # fmt: skip
    terminal = pexpect.spawn(sys.executable, args, env=env, timeout=30)
    terminal.expect("Ctrl\\+D on a line of its own ends it")
    terminal.send("first line\rsecond line\r")
    terminal.sendeof()
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0
    out = json.loads(terminal.before.decode().split("\n", 1)[1].strip().splitlines()[-1])
    assert out["message"] == "first line\nsecond line\n"
    assert out["responses"][0]["content"] == "Got both lines."
