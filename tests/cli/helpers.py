"""Running ``scorechat`` in tests: in-process by default (typer's ``CliRunner``
isolation around the real entry point, so exit codes and the one-sentence errors are
the ones a person sees), or as a real process where exit codes by signal, pipes or the
installed entry point matter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``scorechat ARGS`` in this process: stdin, stdout, stderr and the environment are
    swapped for the call, and the exit code is the one the entry point exits with."""
    from tui.launch import main

    code: int = 0
    with CliRunner().isolation(input=input, env=env) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return subprocess.CompletedProcess(
        ["scorechat", *args], code, stdout.decode(errors="replace"), stderr.decode(errors="replace")
    )


def cli_process(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``scorechat ARGS`` as a real process (``python -m tui.cli``)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=full_env,
        cwd=os.getcwd(), input=input, timeout=timeout,
    )  # fmt: skip


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scorechat: ")
    return lines[0]


def scripted_message(text: str, script: Path, score: str = "greeting") -> list[str]:
    """The arguments of ``scorechat message TEXT`` replaying ``script``, printing JSON."""
    return ["message", text, "--score", score, "--provider", "scripted", "--script",
            str(script), "--json"]  # fmt: skip
