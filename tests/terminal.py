"""A program in a real pseudo-terminal, read back through a terminal emulator (pyte):
tests look at what a person would see, not at the bytes the program happened to write
(a program that redraws only the cells that changed never writes a whole word again)."""

from __future__ import annotations

import time
from types import TracebackType

import pexpect
import pyte


class Terminal:
    def __init__(
        self, args: list[str], env: dict[str, str], cols: int = 120, rows: int = 40
    ) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(args[0], args[1:], env=env, dimensions=(rows, cols), timeout=5)

    def pump(self) -> None:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.02)
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
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} never appeared on screen:\n{self.text()}")

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def quit(self, timeout: float = 10.0) -> None:
        """Ctrl+Q, as a person quits, and the program ends."""
        self.send("\x11")
        self.child.expect(pexpect.EOF, timeout=timeout)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Whatever the test did, no program is left running."""
        if self.child.isalive():
            self.child.terminate(force=True)
