"""Errors a user can cause. Each carries one plain sentence that front ends show as is."""

from __future__ import annotations


class ScoreChatError(Exception):
    """Base class: ``str(error)`` is a complete sentence meant for the user."""

    exit_code = 1


class UsageError(ScoreChatError):
    """Bad input: an unknown name, a bad flag value, an unreadable file."""

    exit_code = 2


class NotFoundError(UsageError):
    """A scorecard, score, session or version that does not exist."""


class AmbiguousError(UsageError):
    """A name fragment that matches more than one thing."""


class SandboxError(UsageError):
    """A path that would leave the workspace."""


class YamlError(ScoreChatError):
    """Text that is not valid YAML; carries the parser's position (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.problem = message
        self.line = line
        self.column = column
        super().__init__(f"Invalid YAML ({self.detail}).")

    @property
    def detail(self) -> str:
        """Where and what, e.g. ``line 6, column 5: a tab character is used for indentation``."""
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return where + self.problem


class StoreError(ScoreChatError):
    """The database cannot be opened or written."""


#: What a database lock held past the busy timeout (another process writing) is told.
DATABASE_BUSY = "The database is busy: another scorechat holds it; try again in a moment."


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" or "busy": another process holds the lock."""
    return "locked" in str(exc) or "busy" in str(exc)


class ProviderError(ScoreChatError):
    """A model provider failed in a way a retry will not fix."""
