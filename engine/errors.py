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
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"Invalid YAML ({where}{message}).")


class StoreError(ScoreChatError):
    """The database cannot be opened or written."""


class ProviderError(ScoreChatError):
    """A model provider failed in a way a retry will not fix."""
