"""Runs the installed ``scorechat`` in a pseudo-terminal and watches its output bytes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def scorechat_bin() -> str:
    return str(Path(sys.executable).parent / "scorechat")


class App:
    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cols: int = 160,
        rows: int = 45,
        command: list[str] | None = None,
    ) -> None:
        self.started = time.perf_counter()
        program, *before = command or [scorechat_bin()]
        self.child = pexpect.spawn(
            program,
            [*before, *args],
            env={**os.environ, **env, "TERM": "xterm-256color"},
            dimensions=(rows, cols),
            timeout=60,
        )
        self.buffer = b""

    def drain(self, timeout: float = 0.005) -> bytes:
        try:
            data = self.child.read_nonblocking(1 << 20, timeout=timeout)
        except pexpect.TIMEOUT:
            return b""
        except pexpect.EOF:
            raise RuntimeError(
                "scorechat exited:\n" + self.buffer[-2000:].decode(errors="replace")
            ) from None
        self.buffer = self.buffer[-4096:] + data
        return data

    def wait_for(
        self, needle: bytes, timeout: float = 60.0, seen: list[bytes] | None = None
    ) -> float:
        """Seconds since launch when ``needle`` appeared in the output (after what was seen).
        ``seen`` collects every byte read meanwhile."""
        deadline = time.perf_counter() + timeout
        tail = b""
        while time.perf_counter() < deadline:
            data = self.drain()
            if data and seen is not None:
                seen.append(data)
            if data:
                window = tail + data
                if needle in window:
                    return time.perf_counter() - self.started
                tail = window[-len(needle) * 2 :]
        raise TimeoutError(f"{needle!r} did not appear in {timeout}s")

    def send(self, data: str) -> float:
        self.child.send(data)
        return time.perf_counter()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.child.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> None:
        try:
            self.child.send("\x11")
            self.child.expect(pexpect.EOF, timeout=5)
        except Exception:
            pass
        if self.child.isalive():
            self.child.terminate(force=True)
