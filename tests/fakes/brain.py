"""A deterministic stand-in for a model, shared by the fake servers.

It reads the conversation the way a model would and answers:
- after a tool result: a one-line summary of it;
- "set KEY to VALUE": a str_replace of the ``KEY: old`` line it finds in the file text
  the user message carries (with line numbers), or the system prompt;
- "write N tokens": a long Markdown reply (paragraphs, lists, code, a table) of N words;
- anything else: a short reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Each ``{"name": ..., "input": {...}}``."""


def markdown_tokens(count: int) -> str:
    """About ``count`` whitespace-separated tokens of varied Markdown."""
    blocks = []
    words = 0
    n = 0
    while words < count:
        n += 1
        kind = n % 4
        if kind == 1:
            block = (
                f"Paragraph {n} explains the threshold for the classifier and why "
                "the valid classes should stay in step with the prompt text, which "
                "keeps the score easy to read for every reviewer on the team."
            )
        elif kind == 2:
            block = "\n".join(
                f"- item {n}.{i} keeps the `valid_classes` list tidy" for i in range(4)
            )
        elif kind == 3:
            block = "```yaml\n" + "\n".join(f"key_{n}_{i}: value {i}" for i in range(4)) + "\n```"
        else:
            block = "| node | class | classes |\n|---|---|---|\n" + "\n".join(
                f"| node_{n}_{i} | Classifier | {i + 2} |" for i in range(3)
            )
        blocks.append(block)
        words += len(block.split())
    return "\n\n".join(blocks) + "\n\nEND-OF-REPLY\n"


_SET = re.compile(r"\bset\s+([A-Za-z_][\w.-]*)\s+to\s+(\S+)", re.IGNORECASE)
_WRITE = re.compile(r"\bwrite\s+(\d+)\s+tokens\b", re.IGNORECASE)


def split_user(text: str) -> tuple[str, str]:
    """A user message as ``(file part, what the person wrote)``: scorechat sends the file
    snapshot ahead of the request."""
    if "</file>\n" in text:
        head, _, said = text.partition("</file>\n")
        return head, said.lstrip("\n")
    if text.startswith("(The file ") and ")\n" in text:
        head, _, said = text.partition(")\n")
        return head, said.lstrip("\n")
    return "", text


def respond(system: str, last_user: str, last_tool_result: str | None) -> Reply:
    file_part, last_user = split_user(last_user)
    system = system + "\n" + file_part
    if last_tool_result is not None:
        first = last_tool_result.strip().splitlines()[0] if last_tool_result.strip() else ""
        if (
            "error" in first.lower()
            or "refused" in first.lower()
            or "no replacement" in first.lower()
        ):
            return Reply(f"The edit did not apply: {first}")
        return Reply(f"Done. {first}")
    match = _WRITE.search(last_user)
    if match:
        return Reply(markdown_tokens(int(match.group(1))))
    match = _SET.search(last_user)
    if match:
        key, value = match.group(1), match.group(2).strip("\"'.,")
        path_match = re.search(r"File \(use this path with the tool\): (.+)", system)
        path = path_match.group(1).strip() if path_match else ""
        line = re.search(rf"^\s*\d+\t(\s*){re.escape(key)}:[ \t]*(.*)$", system, re.MULTILINE)
        if not line:
            return Reply(f"I could not find `{key}` in the file.")
        old = f"{line.group(1)}{key}: {line.group(2)}".rstrip()
        new = f"{line.group(1)}{key}: {value}"
        return Reply(
            f"I'll set `{key}` to `{value}`.\n",
            [
                {
                    "name": "",
                    "input": {
                        "command": "str_replace",
                        "path": path,
                        "old_str": old,
                        "new_str": new,
                    },
                }
            ],
        )
    return Reply(f"You said: {last_user.strip()[:200]}")
