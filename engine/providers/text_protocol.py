"""A plain-text edit protocol for models without tool support.

The model writes each editor command as a fenced block tagged ``edit`` holding one
JSON object with the same parameters as the tool::

    ```edit
    {"command": "str_replace", "path": "...", "old_str": "...", "new_str": "..."}
    ```

The engine parses the blocks from the reply and runs them through the same editor
tool; results come back to the model as a user message.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from engine.editor_tool import COMMANDS, EDITOR_JSON_SCHEMA
from engine.providers.base import ToolCall, read_tool_call

TOOL_NAME = "str_replace_editor"

INSTRUCTIONS = """\
## How to edit (text protocol)
You cannot call tools directly. To run an editor command, write a fenced block tagged
`edit` containing one JSON object, for example:

```edit
{"command": "str_replace", "path": "FILE", "old_str": "model_name: gpt-4o-mini", "new_str": "model_name: gpt-4o"}
```

"""
INSTRUCTIONS += (
    f"Commands: {', '.join(COMMANDS)}, with the parameters "
    f"{', '.join(p for p in EDITOR_JSON_SCHEMA['properties'] if p != 'command')}. Escape "
    "newlines in JSON strings as \\n. The results come back in the next message; wait for "
    "them before you claim an edit worked.\n"
)


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)")


def parse_edit_blocks(text: str) -> list[ToolCall]:
    """The reply's editor commands: ```` ```edit ```` blocks whose fence starts a line.

    A block inside another fenced block (a Markdown example of the protocol) is not an
    action and is not run. An indented ```` ```edit ```` fence is reported as an error
    call, so the model learns why nothing happened instead of being ignored.
    """
    calls: list[ToolCall] = []
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    outer: str | None = None  # the fence of a non-edit block we are inside
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info, indent = match["fence"], match["info"], match["indent"]
        if outer is not None:
            if fence.startswith(outer[0]) and len(fence) >= len(outer) and not info:
                outer = None
            index += 1
            continue
        if info != "edit":
            outer = fence
            index += 1
            continue
        body: list[str] = []
        index += 1
        closed = False
        while index < len(lines):
            close = _FENCE.match(lines[index])
            if close and close["fence"].startswith(fence[0]) and not close["info"]:
                closed = True
                break
            body.append(lines[index])
            index += 1
        index += 1
        call_id = f"text_{uuid.uuid4().hex[:16]}"  # unique within the session
        if indent:
            calls.append(
                ToolCall(
                    call_id, TOOL_NAME, None,
                    "the edit block's fence is indented, so it was not run; start the "
                    "```edit line at the beginning of a line",
                )
            )  # fmt: skip
            continue
        if not closed:
            calls.append(
                ToolCall(call_id, TOOL_NAME, None, "the edit block was not closed with ```")
            )
            continue
        calls.append(_parse_block("\n".join(body).strip(), call_id))
    return calls


def _parse_block(body: str, call_id: str) -> ToolCall:
    return read_tool_call(call_id, TOOL_NAME, body, what="the edit block")


def as_block(tool_input: dict[str, Any]) -> str:
    """One editor command as the fenced block the model writes."""
    return "```edit\n" + json.dumps(tool_input, ensure_ascii=False) + "\n```\n"


def results_as_text(results: list[dict[str, Any]]) -> str:
    parts = []
    for result in results:
        status = "error" if result.get("is_error") else "ok"
        parts.append(f"[edit result: {status}]\n{result.get('content', '')}")
    return "\n\n".join(parts)
