"""The conversation as the provider reads it: stored messages to the neutral history.

Nothing earlier is rewritten between requests (each user message carries the file
snapshot it was sent with, and tool results are replayed whole), so the prefix stays
cacheable and acceptable to models that preserve their thinking.
"""

from __future__ import annotations

import json
from typing import Any

from engine.prompts import file_block
from engine.store import StoredMessage

#: A rough bound on history size in characters (about 4 characters a token).
MAX_HISTORY_CHARS = 400_000


def build_history(messages: list[StoredMessage]) -> list[dict[str, Any]]:
    """Stored messages as the neutral history a provider takes.

    Nothing earlier is rewritten (each user message carries the file snapshot it was
    sent with); a tool call whose result was never stored (a crash) gets a result
    saying it did not run; the oldest turns are dropped while the history is over
    ``MAX_HISTORY_CHARS``.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            item: dict[str, Any] = {"role": "user", "text": message.text}
            snapshot = next((p for p in message.parts if p.get("type") == "file"), None)
            if snapshot is not None:
                item["file"] = file_block(snapshot)
            out.append(item)
        elif message.role == "assistant":
            calls = [
                {"id": p["id"], "name": p["name"], "input": p.get("input") or {}}
                for p in message.parts
                if p.get("type") == "tool_use"
            ]
            if not message.text and not calls:
                continue
            thinking = [
                p for p in message.parts if p.get("type") in ("thinking", "redacted_thinking")
            ]
            out.append(
                {"role": "assistant", "text": message.text, "tool_calls": calls,
                 "thinking": thinking}
            )  # fmt: skip
        elif message.role == "tool":
            # Earlier results are replayed whole: a history that changes between requests
            # defeats prompt caching and is refused by models that preserve thinking.
            out.append({"role": "tool", "results": [dict(p) for p in message.parts]})
    return _bound(_pair_tool_calls(out))


def _pair_tool_calls(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(history):
        if item["role"] == "tool":
            previous = out[-1] if out else None
            if not previous or previous["role"] != "assistant" or not previous["tool_calls"]:
                continue  # results without their calls cannot be replayed
            wanted = {c["id"] for c in previous["tool_calls"]}
            item = {
                **item,
                "results": [r for r in item["results"] if r.get("tool_use_id") in wanted],
            }
            have = {r["tool_use_id"] for r in item["results"]}
            for call in previous["tool_calls"]:
                if call["id"] not in have:
                    item["results"].append(_not_run(call))
            out.append(item)
            continue
        out.append(item)
        if item["role"] == "assistant" and item["tool_calls"]:
            following = history[index + 1] if index + 1 < len(history) else None
            if following is None or following["role"] != "tool":
                out.append({"role": "tool", "results": [_not_run(c) for c in item["tool_calls"]]})
    return out


def _not_run(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": call["id"],
        "name": call["name"],
        "content": "Not run: the turn was interrupted before this tool call ran.",
        "is_error": True,
    }


def _bound(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def size(item: dict[str, Any]) -> int:
        return len(json.dumps(item, default=str))

    total = sum(size(i) for i in history)
    while total > MAX_HISTORY_CHARS and len(history) > 1:
        # Drop whole turns from the front: up to the next user message.
        drop = 1
        while drop < len(history) and history[drop]["role"] != "user":
            drop += 1
        if drop >= len(history):
            break
        total -= sum(size(i) for i in history[:drop])
        history = history[drop:]
    return history
