"""Plain ``scorechat [options]`` opens the app without loading the full command line;
it must read the options exactly as the command line does, and fail the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import ROOT, cli_process
from tui.launch import FLAG_OPTIONS, VALUE_OPTIONS, app_options


def test_every_option_of_the_main_command_is_read_by_the_launch() -> None:
    import typer

    from tui.cli import app

    command = typer.main.get_command(app)
    flags = {opt for param in command.params for opt in param.opts}
    flags -= {"-h", "--help"}
    assert flags == set(VALUE_OPTIONS) | set(FLAG_OPTIONS)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {}),
        (["--score", "greeting"], {"score": "greeting"}),
        (["-s", "greeting", "-c", "Customer"], {"score": "greeting", "scorecard": "Customer"}),
        (["--score=greet ing", "--continue"], {"score": "greet ing", "resume_latest": True}),
        (["--home", "h", "--db", "d.db"], {"home": Path("h"), "db": "d.db"}),
        (["--model", "qwen3:8b", "-p", "ollama"], {"model": "qwen3:8b", "provider": "ollama"}),
        # The full command line judges everything else, with its own sentences.
        (["sessions", "list"], None),
        (["--help"], None),
        (["-h"], None),
        (["--score"], None),
        (["--score", "--continue"], None),
        (["--score", "a", "--score", "b"], None),
        (["--unknown"], None),
        (["-sgreeting"], None),
        (["--continue=yes"], None),
        (["--score", "a", "extra"], None),
    ],
)
def test_the_launch_reads_only_what_opens_the_app(
    args: list[str], expected: dict[str, object] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SCORECHAT_WORKSPACE", "SCORECHAT_HOME", "SCORECHAT_DB"):
        monkeypatch.delenv(variable, raising=False)
    assert app_options(args) == expected


def test_the_environment_fills_what_the_arguments_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORECHAT_WORKSPACE", "ws")
    monkeypatch.setenv("SCORECHAT_HOME", "")  # empty: not set, as the command line reads it
    monkeypatch.setenv("SCORECHAT_DB", "x.db")
    assert app_options(["--db", "y.db"]) == {"workspace": "ws", "db": "y.db"}


def launched(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``scorechat ARGS`` through the installed entry point, reporting whether the full
    command line (typer) was loaded."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('typer loaded:', 'typer' in sys.modules))\n"
        "from tui.launch import main\n"
        f"main({list(args)!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["--score", "no such score"],
        ["--scorecard", "no such card"],
        ["--session", "nosuchsession"],
        ["--workspace", " "],
        ["--workspace", "/nonexistent/folder"],
        ["--continue", "--score", "greeting"],
        ["--provider", "scripted", "--score", "greeting"],
    ],
)
def test_the_launch_fails_as_the_command_line_does_without_loading_it(
    args: list[str], workspace: Path, tmp_path: Path
) -> None:
    env = {"SCORECHAT_WORKSPACE": str(workspace), "SCORECHAT_HOME": str(tmp_path / "home")}
    fast = launched(*args, env=env)
    full = cli_process(*args, env=env)
    assert (fast.returncode, fast.stderr) == (full.returncode, full.stderr)
    assert fast.returncode != 0 and fast.stderr.startswith("scorechat: ")
    assert "typer loaded: False" in fast.stdout
