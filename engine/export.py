"""A session as Markdown or JSON, for people and for other tools."""

from __future__ import annotations

import json
import time
from typing import Any

from engine.redact import redact
from engine.store import Edit, Message, Session


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def session_to_markdown(session: Session, messages: list[Message], edits: list[Edit]) -> str:
    lines = [
        f"# {session.title or 'Untitled session'}",
        "",
        f"- Score: {session.scorecard} / {session.score} (`{session.path}`)",
        f"- Session: `{session.id}`, {session.status}, started {_when(session.created_at)}",
        f"- Model: {session.provider or '-'} {session.model or ''}".rstrip(),
        f"- Tokens: {session.input_tokens} in, {session.output_tokens} out"
        + (f", ${session.cost_usd:.4f}" if session.cost_usd else ""),
        f"- Edits: {len(edits)} ({sum(e.undone for e in edits)} undone)",
        "",
    ]
    for message in messages:
        if message.role == "user":
            lines += [f"## You ({_when(message.created_at)})", "", message.text, ""]
        elif message.role == "assistant":
            status = "" if message.status == "complete" else f" [{message.status}]"
            if message.text or status:
                lines += [f"## Assistant{status}", "", message.text, ""]
            for part in message.parts:
                if part.get("type") == "tool_use":
                    args = part.get("input") or {}
                    lines.append(f"- tool `{args.get('command', '?')}` on `{args.get('path', '')}`")
            if any(p.get("type") == "tool_use" for p in message.parts):
                lines.append("")
        elif message.role == "tool":
            for part in message.parts:
                first = str(part.get("content", "")).strip().splitlines()[:1]
                mark = "error" if part.get("is_error") else "ok"
                lines.append(f"  - result ({mark}): {first[0] if first else ''}")
            lines.append("")
    return redact("\n".join(lines).rstrip() + "\n")


def session_to_dict(session: Session, messages: list[Message], edits: list[Edit]) -> dict[str, Any]:
    return {
        "session": session.as_dict(),
        "messages": [m.as_dict() for m in messages],
        "edits": [
            {
                "id": e.id,
                "message_id": e.message_id,
                "path": e.path,
                "command": e.command,
                "input": e.tool_input,
                "undone": e.undone,
                "created_at": e.created_at,
            }
            for e in edits
        ],
    }


def session_to_json(session: Session, messages: list[Message], edits: list[Edit]) -> str:
    return redact(
        json.dumps(session_to_dict(session, messages, edits), indent=2, ensure_ascii=False)
    )
