"""The system prompt (stable for a session) and the file snapshot each user message carries."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.editor_tool import invalid_note, numbered, split_lines
from engine.settings import bundled_data_dir

MAX_FILE_CHARS_IN_PROMPT = 60_000

ROLE = """\
You are scorechat's assistant. You help a QA analyst read and change the YAML
configuration of one call-centre QA score. You change the file only through the
editor tool; the user sees every edit as a diff and can undo it.
"""

TOOL_RULES = """\
## Rules for editing
- Each of the user's messages comes with the file as it was then, with line numbers;
  your edits' results show the changed lines. View it again if you need more.
- Make small, unique str_replace edits: old_str must match the file exactly once.
  Never include the line-number prefixes in old_str or new_str.
- Keep comments, key order, quoting and block scalar styles (`>` and `|`).
- Keep indentation exact: YAML indentation is meaning. Never use tabs.
- Every edit is checked: an edit that breaks the YAML is refused; warnings come back
  in the tool result. Fix what the warnings point at.
- When the request is only a question, answer it without editing.
- After editing, say in one or two sentences what you changed.
"""


@lru_cache(maxsize=4)
def _reference(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def score_reference() -> str:
    return _reference(bundled_data_dir() / "docs" / "score-yaml-format.md")


def build_system_prompt(*, scorecard: str, score: str, rel_path: str, entry: bool = False) -> str:
    """The system prompt: the same for every request of a session.

    The file's text is not in it: it travels with each user message (``file_block``),
    so the prefix stays stable for prompt caching and for models that require the
    earlier conversation unchanged (preserved thinking).
    """
    where = (
        f"Scorecard: {scorecard}\nScore: {score}\nFile (use this path with the tool): {rel_path}\n"
    )
    if entry:
        where += (
            f"The file is the whole scorecard: it lists its scores under `scores:`. This "
            f"conversation is about the entry named {score!r}: change only that entry unless "
            "asked otherwise.\n"
        )
    parts = [ROLE, where, TOOL_RULES]
    reference = score_reference()
    if reference:
        parts.append("## Score YAML reference\n" + reference)
    return "\n".join(parts)


def file_block(part: dict[str, Any]) -> str:
    """A stored file snapshot (a user message's ``file`` part) as the model reads it."""
    path = part.get("path", "")
    if part.get("missing"):
        if part.get("why"):
            return f"(The file {path} cannot be shown: {part['why']})"
        return f"(The file {path} does not exist at the moment.)"
    if part.get("unchanged"):
        return f"(The file {path} has not changed since the previous message.)"
    body = numbered(split_lines(part.get("text") or ""))
    if len(body) > MAX_FILE_CHARS_IN_PROMPT:
        cut = body.rfind("\n", 0, MAX_FILE_CHARS_IN_PROMPT)
        body = body[:cut] + "\n[... the rest is cut; use view with view_range to read it]"
    block = f"The file {path} as it is now, with line numbers:\n<file>\n{body or '(empty file)'}\n</file>"
    if part.get("problem"):
        block += "\n" + invalid_note(path, part["problem"])
    return block
