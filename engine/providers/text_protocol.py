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
from typing import Any

from engine.providers.base import ToolCall

TOOL_NAME = "str_replace_editor"

_BLOCK = re.compile(r"```edit[ \t]*\r?\n(.*?)\r?\n```", re.DOTALL)

INSTRUCTIONS = """\
## How to edit (text protocol)
You cannot call tools directly. To run an editor command, write a fenced block tagged
`edit` containing one JSON object, for example:

```edit
{"command": "str_replace", "path": "FILE", "old_str": "model_name: gpt-4o-mini", "new_str": "model_name: gpt-4o"}
```

Commands: view, str_replace, insert, create, undo_edit, with the parameters path,
view_range, old_str, new_str, insert_line, insert_text and file_text. Escape newlines
in JSON strings as \\n. The results come back in the next message; wait for them
before you claim an edit worked.
"""


def parse_edit_blocks(text: str) -> list[ToolCall]:
    calls = []
    for index, match in enumerate(_BLOCK.finditer(text), 1):
        body = match.group(1).strip()
        call_id = f"text_{index}"
        try:
            data: Any = json.loads(body)
        except json.JSONDecodeError as exc:
            calls.append(
                ToolCall(call_id, TOOL_NAME, None, f"the edit block is not valid JSON ({exc.msg})")
            )
            continue
        if not isinstance(data, dict):
            calls.append(ToolCall(call_id, TOOL_NAME, None, "the edit block must be a JSON object"))
            continue
        calls.append(ToolCall(call_id, TOOL_NAME, data))
    return calls


def results_as_text(results: list[dict[str, Any]]) -> str:
    parts = []
    for result in results:
        status = "error" if result.get("is_error") else "ok"
        parts.append(f"[edit result: {status}]\n{result.get('content', '')}")
    return "\n\n".join(parts)
