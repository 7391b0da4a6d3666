"""One process of the lost-update tests: edits one score file through the editor tool.

``python -m tests.reliability.edit_worker WORKSPACE DB TAG ROUNDS`` inserts the line
``  - TAG-0`` into the file's ``items:`` list, then replaces it with ``TAG-1``, ``TAG-2``
and so on, and prints the last token it was told was applied (JSON).
"""

from __future__ import annotations

import asyncio
import json
import sys

from engine.editor_tool import EditorTool
from engine.store import Store

PATH = "Card/Concurrency.yaml"


async def main(workspace: str, db: str, tag: str, rounds: int) -> dict[str, object]:
    store = await Store.open(db)
    try:
        session = await store.create_session(
            scorecard="Card", score="Concurrency", path=PATH, baseline=None
        )
        tool = EditorTool(workspace, store, session_id=session.id)
        applied: str | None = None
        errors: list[str] = []
        result = await tool.run(
            {"command": "insert", "path": PATH, "insert_line": 3, "insert_text": f"  - {tag}-0"}
        )
        if result.is_error:
            errors.append(result.text)
        else:
            applied = f"{tag}-0"
            for step in range(1, rounds):
                result = await tool.run(
                    {
                        "command": "str_replace",
                        "path": PATH,
                        "old_str": f"  - {applied}\n",
                        "new_str": f"  - {tag}-{step}\n",
                    }
                )
                if result.is_error:
                    errors.append(result.text)
                    break
                applied = f"{tag}-{step}"
        return {"tag": tag, "applied": applied, "errors": errors, "session": session.id}
    finally:
        await store.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))))
