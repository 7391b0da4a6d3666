"""Building blocks for scripted-provider replies and generated scores, shared by the tests
and the benchmarks."""

from __future__ import annotations

from typing import Any

GREETING = "Customer Service QA/Greeting.yaml"


def edit(old: str, new: str, path: str = GREETING) -> dict[str, Any]:
    """A scripted str_replace tool call."""
    return {"type": "tool_use", "name": "str_replace_editor",
            "input": {"command": "str_replace", "path": path, "old_str": old, "new_str": new}}  # fmt: skip


def tool(**tool_input: Any) -> dict[str, Any]:
    """A scripted editor tool call with any command and parameters."""
    return {"type": "tool_use", "name": "str_replace_editor", "input": tool_input}


def text(value: str) -> dict[str, Any]:
    """A scripted text block."""
    return {"type": "text", "text": value}


def big_score(nodes: int = 1000) -> str:
    """A valid score of ``5 * nodes + 3`` lines: one Classifier node per five lines."""
    lines = ["name: Big", "class: LangGraphScore", "graph:"]
    for i in range(nodes):
        lines += [
            f"  - name: node_{i}",
            "    class: Classifier",
            '    valid_classes: ["Yes", "No"]',
            "    system_message: >",
            f"      Prompt number {i}.",
        ]
    return "\n".join(lines) + "\n"
