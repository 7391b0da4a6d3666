"""A session as Markdown or JSON, for people and for other tools."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from engine.diffing import unified_diff
from engine.errors import UsageError
from engine.redact import redact
from engine.store import Edit, SessionRecord, StoredMessage
from engine.workspace import atomic_write


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def session_to_markdown(
    session: SessionRecord, messages: list[StoredMessage], edits: list[Edit]
) -> str:
    """A QA change record: what was asked, every tool call with its full result, and the
    diff of every edit (and who undid what)."""
    by_message: dict[int, list[Edit]] = {}
    for edit in edits:
        by_message.setdefault(edit.message_id or 0, []).append(edit)
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
                    lines += [
                        f"### Tool call `{args.get('command', '?')}` on `{args.get('path', '')}`",
                        "",
                        _fence(json.dumps(args, indent=2, ensure_ascii=False), "json"),
                        "",
                    ]
        elif message.role == "tool":
            for part in message.parts:
                mark = "error" if part.get("is_error") else "ok"
                lines += [f"Result ({mark}):", "", _fence(str(part.get("content", ""))), ""]
        for edit in by_message.pop(message.id, []) if message.role == "assistant" else []:
            lines += _edit_lines(edit)
    for rest in by_message.values():  # edits not tied to a message (restores, the CLI)
        for edit in rest:
            lines += _edit_lines(edit)
    return redact("\n".join(lines).rstrip() + "\n")


def _edit_lines(edit: Edit) -> list[str]:
    state = "undone" if edit.undone else "applied"
    diff = unified_diff(edit.before or "", edit.after or "", edit.path)
    return [
        f"### Edit {edit.id}: {edit.command} of `{edit.path}` ({state}, {_when(edit.created_at)})",
        "",
        _fence(diff or "(no change)", "diff"),
        "",
    ]


def _fence(text: str, language: str = "") -> str:
    """``text`` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def session_to_dict(
    session: SessionRecord, messages: list[StoredMessage], edits: list[Edit]
) -> dict[str, Any]:
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
                "diff": unified_diff(e.before or "", e.after or "", e.path),
            }
            for e in edits
        ],
    }


def session_to_json(
    session: SessionRecord, messages: list[StoredMessage], edits: list[Edit]
) -> str:
    return redact(
        json.dumps(session_to_dict(session, messages, edits), indent=2, ensure_ascii=False)
    )


def write_export(path: Path, text: str) -> None:
    """Write an export where a person named: a new or regular file whole or not at all
    (through a link, to the file it names); a terminal, pipe or device (``/dev/stdout``,
    a FIFO) as a stream. Replacing any of those with a regular file, as an atomic
    write does, once left a plain file where ``/dev/full`` was and cut links."""
    try:
        mode = path.stat().st_mode  # through links
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a folder; name a file to write.")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            # Not blocking: a pipe that nothing reads fails at once instead of waiting for
            # ever (an app could then not quit).
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise UsageError(f"Nothing is reading {path}: start its reader first.") from None
            raise
        os.set_blocking(fd, True)
        with open(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    # A link, dangling or not, stays: the file it names is written (made if need be).
    atomic_write(Path(os.path.realpath(path)) if path.is_symlink() else path, text)
