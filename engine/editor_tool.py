"""The str_replace editor tool the assistant uses to read and change score files.

Commands and parameter names follow Anthropic's text editor tool: ``view``,
``str_replace``, ``insert``, ``create`` and ``undo_edit`` with ``path``, ``view_range``,
``old_str``, ``new_str``, ``insert_line``, ``insert_text`` and ``file_text``.

Promises: ``run`` never raises for bad input; a failed command leaves the file
byte-identical; every write is atomic and must leave valid YAML; str_replace applies
only a unique match; every applied edit can be undone, across restarts when a store
is given.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import difflib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ScoreChatError, YamlError
from engine.logs import get_logger
from engine.workspace import (
    MAX_FILE_BYTES,
    YAML_SUFFIXES,
    Workspace,
    atomic_write,
    read_text,
    remove_stale_temp_files,
)
from engine.yaml_text import document_warnings, load_edited, load_plain, yaml_problem

if TYPE_CHECKING:
    from engine.store import Store

#: The editor's commands: a new one is a method ``_<name>`` here, a line in ``COMMANDS``
#: and its parameters in ``EDITOR_JSON_SCHEMA`` (which the providers and the text
#: protocol read; nothing else names them).
COMMANDS = ("view", "str_replace", "insert", "create", "undo_edit")
WRITE_COMMANDS = ("str_replace", "insert", "create", "undo_edit")

#: The editor described to models without Anthropic's native tool (Ollama).
EDITOR_DESCRIPTION = (
    "View and edit the score's YAML file. Commands: view (numbered lines; view_range "
    "[start, end], -1 = to the end), str_replace (replace old_str, which must match "
    "exactly once, with new_str), insert (insert_text after line insert_line; 0 = top), "
    "create (a new .yaml file with file_text), undo_edit (undo the last edit of path)."
)

EDITOR_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {
            "type": "string",
            "enum": list(COMMANDS),
            "description": "The command to run.",
        },
        "path": {"type": "string", "description": "The file, relative to the workspace."},
        "view_range": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "For view: [start, end] lines, 1-indexed; end -1 means to the end.",
        },
        "old_str": {"type": "string", "description": "For str_replace: the exact text to replace."},
        "new_str": {"type": "string", "description": "For str_replace: the new text."},
        "insert_line": {
            "type": "integer",
            "description": "For insert: the line after which to insert (0 = top).",
        },
        "insert_text": {"type": "string", "description": "For insert: the text to insert."},
        "file_text": {"type": "string", "description": "For create: the whole file."},
    },
    "required": ["command", "path"],
}

SNIPPET_CONTEXT = 4
#: Room past ``max_chars`` for a result's header and hints before the result is cut.
RESULT_HEADROOM = 1000

log = get_logger("editor")


class EditError(ScoreChatError):
    """A command that cannot be carried out; its text goes back to the model."""


class ChangedSinceError(EditError):
    """Undoing an edit would discard changes made to the file after it.

    Carries the file as it is and as undoing would leave it, so a front end can show
    what would be lost and let the person decide (``undo(..., force=True)``).
    """

    def __init__(self, message: str, rel: str, current: str | None, target: str | None):
        super().__init__(message)
        self.rel = rel
        self.current = current
        self.target = target


@dataclass
class EditResult:
    """What a command returns: the text for the model, and what changed on disk."""

    text: str
    """The result the model reads (numbered lines, a snippet, or one error sentence)."""
    is_error: bool = False
    """True when the command failed; the file is then unchanged."""
    command: str | None = None
    path: str | None = None
    """The file, relative to the workspace root."""
    before: str | None = None
    """The file's text before a write (``None`` for a created file)."""
    after: str | None = None
    """The file's text after a write (``None`` for a file removed by undoing its creation)."""
    edit_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.is_error and self.command in WRITE_COMMANDS and self.before != self.after


@dataclass(frozen=True)
class ProposedEdit:
    """An edit about to be written, shown to an approver in ``ask`` mode."""

    command: str
    path: str
    before: str | None
    """``None`` when the edit creates the file."""
    after: str | None
    """``None`` when undoing a creation removes the file."""
    tool_input: dict[str, Any]


#: Returns ``None`` to apply the edit, or the reason the user rejected it.
Approver = Callable[[ProposedEdit], Awaitable[str | None]]


@dataclass
class _MemoryEdit:
    id: int
    path: str
    command: str
    before: str | None
    after: str | None
    undone: bool = False


def split_lines(text: str) -> list[str]:
    """Lines with their endings; only ``\\n`` ends a line (``\\r`` stays with its line)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _strip_eol(line: str) -> str:
    return line.rstrip("\n").rstrip("\r")


def newline_of(text: str) -> str:
    """The file's dominant line ending."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def to_newline(text: str, nl: str) -> str:
    normal = text.replace("\r\n", "\n")
    return normal.replace("\n", nl) if nl != "\n" else normal


def numbered(lines: list[str], start: int = 1) -> str:
    """``cat -n`` style: the line number right-aligned to 6, a tab, the line."""
    return "\n".join(f"{number:6}\t{_strip_eol(line)}" for number, line in enumerate(lines, start))


_LINE_PREFIX = re.compile(r"^ *\d+\t")


def _strip_line_numbers(text: str) -> str | None:
    """``text`` without ``   12\\t`` prefixes copied from ``view``, if every line has one."""
    lines = text.replace("\r\n", "\n").split("\n")
    body = [line for line in lines if line != ""]
    if not body or not all(_LINE_PREFIX.match(line) for line in body):
        return None
    return "\n".join(_LINE_PREFIX.sub("", line, count=1) for line in lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _reindent(text: str, offset: int) -> str:
    out = []
    for line in text.split("\n"):
        if not line.strip():
            out.append(line)
        elif offset > 0:
            out.append(" " * offset + line)
        else:
            out.append(line[min(-offset, _indent(line)) :])
    return "\n".join(out)


@dataclass(frozen=True)
class _Match:
    start_line: int  # 0-based index of the first replaced line
    end_line: int  # exclusive
    new_text: str


def replace_unique(text: str, old: str, new: str) -> tuple[str, int, int]:
    """Replace the one occurrence of ``old`` in ``text``.

    Returns the new text and the 1-based first and last line of the replacement.
    Exact match first; then, only while they give exactly one candidate, CRLF and
    trailing-space normalisation, ``view`` line-number prefixes, and a uniform
    indentation offset (``new`` re-indented by the same offset). Raises ``EditError``.
    """
    nl = newline_of(text)
    new_nl = to_newline(new, nl) if nl == "\r\n" else new
    first = text.find(old)
    if first >= 0:
        positions = _positions(text, old)
        if len(positions) > 1:
            lines = ", ".join(str(text.count("\n", 0, p) + 1) for p in positions[:10])
            raise EditError(
                f"No replacement was performed: old_str occurs {len(positions)} times, "
                f"at lines {lines}. Include more surrounding lines so that it is unique."
            )
        result = text[:first] + new_nl + text[first + len(old) :]
        start = text.count("\n", 0, first) + 1
        return result, start, start + new_nl.count("\n")

    if nl == "\r\n" and (old_crlf := to_newline(old, nl)) != old and old_crlf in text:
        return replace_unique(text, old_crlf, new_nl)
    candidates = [(old, new)]
    stripped_old = _strip_line_numbers(old)
    if stripped_old is not None:
        stripped_new = _strip_line_numbers(new) if new else new
        candidates.append((stripped_old, stripped_new if stripped_new is not None else new))
        # The prefixes may be all that differed.
        if stripped_old and text.count(to_newline(stripped_old, nl)) == 1:
            return replace_unique(text, to_newline(stripped_old, nl), candidates[-1][1])
    raw_lines = split_lines(text)
    for matcher in (_match_whitespace, _match_indent):
        for cand_old, cand_new in candidates:
            matches = matcher(raw_lines, cand_old, cand_new)
            if len(matches) == 1:
                return _apply(raw_lines, matches[0], nl)
            if len(matches) > 1:
                lines = ", ".join(str(m.start_line + 1) for m in matches[:10])
                raise EditError(
                    f"No replacement was performed: old_str matches {len(matches)} places "
                    f"(ignoring whitespace), at lines {lines}. Include more surrounding lines "
                    "so that it is unique."
                )
    raise EditError(
        "No replacement was performed: old_str was not found in the file."
        + _closest_hint(raw_lines, old)
    )


def _positions(text: str, needle: str) -> list[int]:
    found, start = [], 0
    while (index := text.find(needle, start)) >= 0:
        found.append(index)
        start = index + 1
    return found


def _old_lines(old: str) -> list[str]:
    lines = old.replace("\r\n", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


class _Lines:
    """A file's lines (line endings and trailing spaces dropped), searchable as one text.

    Runs of lines are found with ``str.find`` on the joined text rather than by
    comparing a slice at every position: a 45,000-line old_str that does not match
    costs milliseconds instead of seconds.
    """

    def __init__(self, raw: list[str]):
        self.lines = [_strip_eol(line).rstrip() for line in raw]
        self.text = "\n".join(self.lines) + "\n"
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1

    def find_runs(self, wanted: list[str]) -> list[int]:
        """The 0-based line numbers where ``wanted`` occurs as whole consecutive lines."""
        needle = "\n".join(wanted) + "\n"
        found: list[int] = []
        position = self.text.find(needle)
        while position >= 0:
            if position == 0 or self.text[position - 1] == "\n":
                found.append(bisect.bisect_left(self.starts, position))
                if len(found) > 10:
                    break
            position = self.text.find(needle, position + 1)
        return found


def _match_whitespace(raw: list[str], old: str, new: str) -> list[_Match]:
    wanted = [line.rstrip() for line in _old_lines(old)]
    if not any(wanted) or len(wanted) > len(raw):
        return []
    n = len(wanted)
    return [_Match(i, i + n, new) for i in _Lines(raw).find_runs(wanted)]


def _match_indent(raw: list[str], old: str, new: str) -> list[_Match]:
    wanted = [line.rstrip() for line in _old_lines(old)]
    first = next((line for line in wanted if line.strip()), None)
    if first is None or len(wanted) > len(raw):
        return []
    first_index = wanted.index(first)
    lines = _Lines(raw)
    n = len(wanted)
    # Each indentation offset the first non-blank line suggests, tried as one search.
    offsets = set()
    for i in range(len(lines.lines) - n + 1):
        anchor = lines.lines[i + first_index]
        if anchor.lstrip(" ") == first.lstrip(" "):
            offset = _indent(anchor) - _indent(first)
            if offset != 0:
                offsets.add(offset)
    matches = []
    for offset in sorted(offsets):
        if any(w.strip() and _indent(w) + offset < 0 for w in wanted):
            continue
        shifted = [" " * (_indent(w) + offset) + w.lstrip(" ") if w.strip() else "" for w in wanted]
        for i in lines.find_runs(shifted):
            matches.append(_Match(i, i + n, _reindent(new, offset)))
    return sorted(matches, key=lambda m: m.start_line)


def _apply(raw: list[str], match: _Match, nl: str) -> tuple[str, int, int]:
    last = raw[match.end_line - 1]
    ending = last[len(_strip_eol(last)) :]
    block = to_newline(match.new_text, nl)
    if block.endswith(nl):
        block = block[: -len(nl)]
    replacement = "" if match.new_text == "" else block + (ending or "")
    result = "".join(raw[: match.start_line]) + replacement + "".join(raw[match.end_line :])
    start = match.start_line + 1
    return result, start, start + max(replacement.count("\n") - 1, 0)


def _closest_hint(raw: list[str], old: str) -> str:
    wanted = [line.strip() for line in _old_lines(old)]
    probe = next((line for line in wanted if line), "")
    if not probe or not raw:
        return ""
    best, best_ratio = -1, 0.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(probe)
    for index, line in enumerate(raw):
        matcher.set_seq1(_strip_eol(line).strip())
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = index, ratio
    if best < 0 or best_ratio < 0.5:
        return " Use the view command to see the file's current text."
    start = max(best - wanted.index(probe), 0)
    window = raw[start : start + min(max(len(wanted), 1), 12)]
    return (
        f" The closest text is at line {start + 1}:\n{numbered(window, start + 1)}\n"
        "Copy old_str exactly from the file (view it again if it may have changed)."
    )


def snippet(text: str, first: int, last: int, context: int = SNIPPET_CONTEXT) -> str:
    """Numbered lines ``first..last`` (1-based) of ``text`` with some context around them."""
    lines = split_lines(text)
    start = max(first - context, 1)
    end = min(max(last, first) + context, len(lines))
    return numbered(lines[start - 1 : end], start)


@contextlib.asynccontextmanager
async def write_lock(store: Store | None, workspace: Workspace, rel: str) -> AsyncIterator[None]:
    """The lock for one check-and-write of the score ``rel``: the store's lock on the file
    (held across hosts on a shared store) and then the workspace's own file lock. Every
    writer of a score (the editor, its undo, a version's restore) takes them in this order;
    a temp file a killed write left is removed once they are held."""
    held = (
        store.edit_lock(str(workspace.root), rel) if store is not None else contextlib.nullcontext()
    )
    async with held, workspace.write_lock():
        remove_stale_temp_files(workspace.root / rel)
        yield


class EditorTool:
    """Runs editor commands on the score files of one workspace.

    ``store`` persists every edit (so undo works after a restart); without one, the
    undo history lives in memory for the tool's lifetime. ``session_id`` and
    ``message_id`` link recorded edits to a conversation. ``approver``, when set, is
    asked before each write and may reject it with a reason.
    """

    def __init__(
        self,
        workspace_root: Path | str,
        store: Store | None = None,
        *,
        session_id: str | None = None,
        max_chars: int = 40_000,
        approver: Approver | None = None,
    ):
        self.workspace = Workspace(workspace_root)
        self.store = store
        self.session_id = session_id
        self.message_id: int | None = None
        """The assistant message whose tool calls are running; set by the agent."""
        self.max_chars = max_chars
        self.approver = approver
        self._memory: list[_MemoryEdit] = []
        self._seen: dict[str, str] = {}

    async def run(self, tool_input: Any) -> EditResult:
        """Run one command. Never raises for bad input: errors come back as results."""
        if not isinstance(tool_input, dict):
            return EditResult("The tool input must be an object with a `command`.", is_error=True)
        command = tool_input.get("command")
        if command not in COMMANDS:
            problem = (
                f"Unknown command {command!r}" if command is not None
                else "Missing required parameter `command`"
            )  # fmt: skip
            return EditResult(
                f"{problem}: use one of {', '.join(COMMANDS)}.",
                is_error=True,
                command=command if isinstance(command, str) else None,
            )
        try:
            handler = getattr(self, f"_{command}")
            result: EditResult = await handler(tool_input)
        except ScoreChatError as exc:
            result = EditResult(str(exc), is_error=True)
        except OSError as exc:  # the disk's doing (full, read-only, gone), not the edit's
            log.warning("the editor's %s command met a file error: %s", command, exc)
            where = tool_input.get("path") if isinstance(tool_input.get("path"), str) else "it"
            result = EditResult(
                f"The {command} command could not be carried out on {where}: "
                f"{exc.strerror or exc}. The file is unchanged.",
                is_error=True,
            )
        except Exception as exc:  # never let a bug in one command take the turn down
            log.exception("the editor's %s command failed", command)
            result = EditResult(f"The {command} command failed: {exc}.", is_error=True)
        limit = self.max_chars + RESULT_HEADROOM
        if len(result.text) > limit:
            # Every result goes back to the model: a multi-megabyte line must not.
            result.text = (
                result.text[:limit] + f"\n[Result cut at {limit} characters of {len(result.text)}.]"
            )
        result.command = command
        if result.path is None and isinstance(tool_input.get("path"), str):
            result.path = tool_input["path"]
        return result

    # ---- helpers ---------------------------------------------------------------------

    def _path(self, tool_input: dict[str, Any], command: str) -> tuple[Path, str]:
        raw = tool_input.get("path")
        if raw is None or raw == "":
            raise EditError(f"Missing required parameter `path` for command `{command}`.")
        if not isinstance(raw, str):
            raise EditError("The parameter `path` must be a string.")
        path = self.workspace.resolve_path(raw)
        return path, self.workspace.display(path)

    @staticmethod
    def _require_str(tool_input: dict[str, Any], name: str, command: str) -> str:
        value = tool_input.get(name)
        if value is None:
            raise EditError(f"Missing required parameter `{name}` for command `{command}`.")
        if not isinstance(value, str):
            raise EditError(f"The parameter `{name}` must be a string.")
        return value

    async def _read(self, path: Path, rel: str) -> str:
        if not path.exists():
            raise EditError(f"The file {rel} does not exist.")
        if path.is_dir():
            raise EditError(f"{rel} is a folder; this command needs a file.")
        return await asyncio.to_thread(read_text, path)

    async def _current(self, command: str, path: Path, rel: str) -> str | None:
        """The file's text before a write; ``None`` for a file ``create`` will make."""
        if command != "create":
            return await self._read(path, rel)
        if path.exists() or path.is_symlink():
            raise EditError(
                f"The file {rel} already exists; use str_replace or insert to change it."
            )
        return None

    async def _edit(
        self,
        command: str,
        path: Path,
        rel: str,
        tool_input: dict[str, Any],
        plan: Callable[[str | None], tuple[str, int, int]],
    ) -> EditResult:
        """Read, plan, check and write one edit, and record it, as one check-and-write.

        ``plan`` turns the file's current text into ``(after, first, last)`` (or raises
        ``EditError``). Without an approver everything happens under the workspace's
        write lock, so an edit from another process cannot land in between. With one,
        the person decides first (no lock is held while they think) and the file must
        still be what they saw when the lock is taken.
        """
        if self.approver is None:
            async with self._write_lock(rel):
                before = await self._current(command, path, rel)
                after, first, last = await asyncio.to_thread(plan, before)
                warnings = await asyncio.to_thread(_validate, after, before)
                return await self._commit(
                    command, path, rel, before, after, tool_input, first, last, warnings
                )
        before = await self._current(command, path, rel)
        after, first, last = await asyncio.to_thread(plan, before)
        warnings = await asyncio.to_thread(_validate, after, before)
        rejected = await self._ask(ProposedEdit(command, rel, before, after, tool_input))
        if rejected is not None:
            return rejected
        async with self._write_lock(rel):
            if await self._current(command, path, rel) != before:
                raise EditError(
                    f"{rel} changed while the edit waited for approval; nothing was written. "
                    "View it and try again."
                )
            return await self._commit(
                command, path, rel, before, after, tool_input, first, last, warnings
            )

    def _write_lock(self, rel: str) -> contextlib.AbstractAsyncContextManager[None]:
        return write_lock(self.store, self.workspace, rel)

    async def _ask(self, proposal: ProposedEdit) -> EditResult | None:
        """``None`` when the approver (if any) applies ``proposal``, else the rejection."""
        if self.approver is None:
            return None
        reason = await self.approver(proposal)
        if reason is None:
            return None
        because = f": {reason}" if reason.strip() else "."
        return EditResult(
            f"The user rejected this edit{because} The file {proposal.path} is unchanged.",
            is_error=True,
            path=proposal.path,
        )

    async def _commit(
        self,
        command: str,
        path: Path,
        rel: str,
        before: str | None,
        after: str,
        tool_input: dict[str, Any],
        first: int,
        last: int,
        warnings: list[str],
    ) -> EditResult:
        """Write ``after`` and record the edit; called with the write lock held.

        When the edit cannot be recorded the file is put back, so a file change never
        exists without its edit row.
        """
        made = _missing_parents(path.parent, self.workspace.root)
        note = self._changed_note(rel, before) if before is not None else ""
        try:
            for folder in reversed(made):
                folder.mkdir()
            await asyncio.to_thread(atomic_write, path, after)
        except BaseException:
            _remove_folders(made)
            raise
        try:
            edit_id = await self._record(command, rel, before, after, tool_input)
        except BaseException as exc:
            try:
                await asyncio.shield(asyncio.to_thread(_put_back, path, before, made))
            except OSError as failed:
                log.exception("%s could not be put back after its edit failed to record", rel)
                raise EditError(
                    f"The edit could not be recorded ({exc}) and {rel} could not be put back "
                    f"({failed.strerror or failed}): the file holds the edit, which is not "
                    "on record. View it before editing again."
                ) from None
            if isinstance(exc, Exception):
                log.exception("recording an edit of %s failed; the file was put back", rel)
                raise EditError(
                    f"The edit could not be recorded ({exc}); {rel} was left unchanged."
                ) from None
            raise
        self._seen[rel] = after
        text = (
            f"The file {rel} has been edited{note}. Here is the result of `cat -n` on a snippet:\n"
            f"{snippet(after, first, last)}\n"
            "Review the change and edit again if it is not right."
        )
        if command == "create":
            text = f"The file {rel} has been created."
        if warnings:
            text += "\nScore check warnings:\n" + "\n".join(f"- {w}" for w in warnings)
        return EditResult(
            text, path=rel, before=before, after=after, edit_id=edit_id, warnings=warnings
        )

    async def _record(
        self, command: str, rel: str, before: str | None, after: str | None, tool_input: dict
    ) -> int:
        if self.store is not None:
            return await self.store.record_edit(
                path=rel,
                command=command,
                before=before,
                after=after,
                tool_input=tool_input,
                session_id=self.session_id,
                message_id=self.message_id,
            )
        edit = _MemoryEdit(len(self._memory) + 1, rel, command, before, after)
        self._memory.append(edit)
        return edit.id

    def last_known_text(self, rel: str) -> str | None:
        """The text of ``rel`` as this tool last wrote or viewed it (``None`` if never)."""
        return self._seen.get(rel)

    def _changed_note(self, rel: str, current: str) -> str:
        seen = self._seen.get(rel)
        if seen is not None and seen != current:
            return " (note: the file had changed since you last viewed it; the edit was applied to its current text)"
        return ""

    # ---- commands --------------------------------------------------------------------

    async def _view(self, tool_input: dict[str, Any]) -> EditResult:
        path, rel = self._path(tool_input, "view")
        if path.is_dir():
            if tool_input.get("view_range") is not None:
                raise EditError("view_range cannot be used when path is a folder.")
            return EditResult(self._listing(path, rel), path=rel)
        text = await self._read(path, rel)
        self._seen[rel] = text
        lines = split_lines(text)
        start, end = 1, len(lines)
        view_range = tool_input.get("view_range")
        if view_range is not None:
            start, end = _check_range(view_range, len(lines))
        body = numbered(lines[start - 1 : end], start)
        header = f"Here's the result of running `cat -n` on {rel}:\n"
        if not lines:
            return EditResult(header + "(the file is empty)", path=rel)
        problem = None
        if path.suffix.lower() in YAML_SUFFIXES:
            problem = await asyncio.to_thread(yaml_problem, text)
        if len(body) > self.max_chars:
            cut = body.rfind("\n", 0, self.max_chars)
            cut = cut if cut > 0 else self.max_chars
            shown = body[:cut]
            last_shown = start + shown.count("\n")
            body = (
                f"{shown}\n[Output cut at {self.max_chars} characters: lines {start}-{last_shown} "
                f"of {len(lines)} shown. Use view_range [{last_shown + 1}, -1] to see the rest.]"
            )
        if problem is not None:
            body += "\n\n" + invalid_note(rel, problem)
        return EditResult(header + body, path=rel)

    def _listing(self, folder: Path, rel: str) -> str:
        entries = []
        for file in sorted(folder.rglob("*")):
            parts = file.relative_to(folder).parts
            if any(p.startswith(".") for p in parts) or len(parts) > 2:
                continue
            if file.is_dir() or file.suffix.lower() in YAML_SUFFIXES:
                entries.append(self.workspace.display(file) + ("/" if file.is_dir() else ""))
        if not entries:
            return f"The folder {rel} has no YAML files."
        return f"YAML files and folders in {rel} (up to 2 levels deep):\n" + "\n".join(entries)

    async def _str_replace(self, tool_input: dict[str, Any]) -> EditResult:
        path, rel = self._path(tool_input, "str_replace")
        _require_score_file(path, rel)
        old = self._require_str(tool_input, "old_str", "str_replace")
        new = tool_input.get("new_str")
        if new is None:
            new = ""
        if not isinstance(new, str):
            raise EditError("The parameter `new_str` must be a string.")
        if old == "":
            raise EditError(
                "old_str is empty: give the exact text to replace (use insert to add new lines)."
            )
        if old == new:
            raise EditError("No replacement was performed: old_str and new_str are identical.")

        def plan(text: str | None) -> tuple[str, int, int]:
            assert text is not None
            after, first, last = replace_unique(text, old, new)
            if after == text:
                raise EditError("No replacement was performed: the edit would not change the file.")
            return after, first, last

        return await self._edit("str_replace", path, rel, tool_input, plan)

    async def _insert(self, tool_input: dict[str, Any]) -> EditResult:
        path, rel = self._path(tool_input, "insert")
        _require_score_file(path, rel)
        line = tool_input.get("insert_line")
        if line is None:
            raise EditError("Missing required parameter `insert_line` for command `insert`.")
        if isinstance(line, str) and line.strip().lstrip("-").isdigit():
            line = int(line)
        if isinstance(line, bool) or not isinstance(line, int):
            raise EditError("The parameter `insert_line` must be a whole number.")
        new = tool_input.get("insert_text")
        if new is None:
            new = tool_input.get("new_str")
        if new is None:
            raise EditError(
                "Missing required parameter `insert_text` (or `new_str`) for command `insert`."
            )
        if not isinstance(new, str):
            raise EditError("The parameter `insert_text` must be a string.")
        if new == "":
            raise EditError("insert_text is empty: there is nothing to insert.")
        at: int = line

        def plan(text: str | None) -> tuple[str, int, int]:
            assert text is not None
            # A byte-order mark stays the file's first character.
            bom = "\ufeff" if text.startswith("\ufeff") else ""
            body = text[len(bom) :]
            lines = split_lines(body)
            if at < 0 or at > len(lines):
                raise EditError(
                    f"insert_line {at} is out of range: the file has {len(lines)} lines "
                    f"(use 0 to insert at the top, {len(lines)} for the end)."
                )
            nl = newline_of(body) if body else "\n"
            block = to_newline(new, nl)
            if not block.endswith(nl):
                block += nl
            head = "".join(lines[:at])
            if head and not head.endswith("\n"):
                head += nl
            after = bom + head + block + "".join(lines[at:])
            return after, at + 1, at + block.count("\n")

        return await self._edit("insert", path, rel, tool_input, plan)

    async def _create(self, tool_input: dict[str, Any]) -> EditResult:
        path, rel = self._path(tool_input, "create")
        file_text = self._require_str(tool_input, "file_text", "create")
        if path.suffix.lower() not in YAML_SUFFIXES:
            raise EditError(f"Only .yaml or .yml files can be created, not {rel}.")

        def plan(_text: str | None) -> tuple[str, int, int]:
            return file_text, 1, file_text.count("\n") + 1

        return await self._edit("create", path, rel, tool_input, plan)

    async def _undo_edit(self, tool_input: dict[str, Any]) -> EditResult:
        path, rel = self._path(tool_input, "undo_edit")
        return await self.undo(path, rel, tool_input)

    async def undo(
        self,
        path: Path,
        rel: str,
        tool_input: dict[str, Any] | None = None,
        session_id: str | None = None,
        *,
        force: bool = False,
    ) -> EditResult:
        """Undo the newest edit of ``rel`` made by this tool's session (or ``session_id``).

        Edits of other sessions, of the CLI and version restores are never undone from
        here. When the file changed after the edit, ``ChangedSinceError`` says so; with
        ``force`` the undo goes ahead, and the changes it discards are recorded as an
        edit of their own. An approver, when set, is asked first, as for any other write.
        """
        owner = session_id or self.session_id
        edit = await self._last_edit(rel, owner)
        if edit is None:
            whose = " made in this session" if owner else ""
            raise EditError(f"There is no edit of {rel}{whose} to undo.")
        current = await asyncio.to_thread(_read_if_exists, path)
        if current != edit.after and not force:
            raise ChangedSinceError(
                f"Cannot undo: {rel} has changed since that edit (in another program or "
                "session); undoing it now would discard those changes. View it and change "
                "it instead.",
                rel,
                current,
                edit.before,
            )
        proposal = ProposedEdit("undo_edit", rel, current, edit.before, tool_input or {})
        rejected = await self._ask(proposal)
        if rejected is not None:
            return rejected
        async with self._write_lock(rel):
            if await asyncio.to_thread(_read_if_exists, path) != current:
                raise EditError(f"{rel} changed while the undo was waiting; nothing was undone.")
            await asyncio.to_thread(_write_or_remove, path, edit.before)
            try:
                if current != edit.after:
                    # A forced undo also throws away later changes: keep them on record.
                    await self._record(
                        "undo_edit", rel, current, edit.before, {"forced_undo_of": edit.id}
                    )
                await self._mark_undone(edit.id)
            except BaseException:
                await asyncio.shield(asyncio.to_thread(_put_back, path, current, []))
                raise
            self._seen[rel] = edit.before or ""
        if edit.before is None:
            message = f"Undid the creation of {rel}: the file was removed."
        else:
            message = f"Undid the last {edit.command} of {rel}; the file is as it was before it."
        return EditResult(message, path=rel, before=current, after=edit.before, edit_id=edit.id)

    async def redo(self, path: Path, rel: str, session_id: str | None = None) -> EditResult:
        """Apply again the edit of ``rel`` this session undid most recently.

        Only while nothing newer was applied by the session, and only when the file is
        still as the undo left it.
        """
        if self.store is None:
            raise EditError("Redo needs the session's stored edits.")
        owner = session_id or self.session_id
        edits = [e for e in await self.store.edits(owner) if e.path == rel] if owner else []
        applied = [e for e in edits if not e.undone]
        newest = applied[-1].id if applied else 0
        candidates = [e for e in edits if e.undone and e.id > newest and e.command != "undo_edit"]
        if not candidates:
            raise EditError(f"There is no undone edit of {rel} to redo.")
        edit = candidates[0]
        async with self._write_lock(rel):
            current = await asyncio.to_thread(_read_if_exists, path)
            if current != edit.before:
                raise EditError(
                    f"Cannot redo: {rel} has changed since the undo; redoing would discard "
                    "those changes."
                )
            await asyncio.to_thread(_write_or_remove, path, edit.after)
            try:
                await self.store.mark_edit_undone(edit.id, False)
            except BaseException:
                await asyncio.shield(asyncio.to_thread(_put_back, path, current, []))
                raise
            self._seen[rel] = edit.after or ""
        return EditResult(
            f"Redid the {edit.command} of {rel}.",
            command="redo", path=rel, before=current, after=edit.after, edit_id=edit.id,
        )  # fmt: skip

    async def _last_edit(self, rel: str, session_id: str | None) -> Any:
        if self.store is not None:
            return await self.store.last_undoable_edit(rel, session_id)
        for edit in reversed(self._memory):
            if edit.path == rel and not edit.undone:
                return edit
        return None

    async def _mark_undone(self, edit_id: int) -> None:
        if self.store is not None:
            await self.store.mark_edit_undone(edit_id)
        else:
            for edit in self._memory:
                if edit.id == edit_id:
                    edit.undone = True


def _require_score_file(path: Path, rel: str) -> None:
    if path.suffix.lower() not in YAML_SUFFIXES:
        raise EditError(f"Only .yaml or .yml score files can be edited, not {rel}.")


def _read_if_exists(path: Path) -> str | None:
    return read_text(path) if path.exists() else None


def _missing_parents(folder: Path, root: Path) -> list[Path]:
    """The folders between ``root`` and ``folder`` that do not exist yet, deepest first."""
    missing = []
    while folder != root and folder.is_relative_to(root) and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            pass


def _write_or_remove(path: Path, text: str | None) -> None:
    """Write ``text`` to ``path``; ``None`` removes the file (undoing its creation)."""
    if text is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        atomic_write(path, text)


def _put_back(path: Path, before: str | None, made: list[Path]) -> None:
    """Return a file to ``before`` (``None``: remove it) after its edit failed to record."""
    if before is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _remove_folders(made)
    else:
        atomic_write(path, before)


def invalid_note(path: str, problem: str) -> str:
    """What the model is told about a file that is not valid YAML as it stands."""
    return (
        f"Note: {path} is not valid YAML now ({problem}; the parser names only the first "
        "error). An edit is applied only when it leaves the whole file valid YAML."
    )


def _validate(text: str, before: str | None = None) -> list[str]:
    """Score warnings for ``text``, or ``EditError`` when it is not valid YAML or too big.

    ``before`` is the text the edit started from: when only some items of a list changed,
    only they are parsed again (``load_edited``)."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise EditError(
            f"The edit was refused: the file would be {size / 1_048_576:.1f} MB, over the "
            f"{MAX_FILE_BYTES // 1_048_576} MB limit for a score. The file is unchanged."
        )
    try:
        data = load_edited(before, text) if before is not None else load_plain(text)
    except YamlError as exc:
        was = yaml_problem(before) if before is not None else None
        if was is None:
            raise EditError(
                f"The edit was refused: the result would not be valid YAML ({exc.detail}). "
                "The file is unchanged."
            ) from None
        raise EditError(
            f"The edit was refused: the file is not valid YAML ({was}) and would still not "
            f"be after this edit ({exc.detail}). An edit is applied only when it leaves the "
            "whole file valid YAML: fix the rest in the same edit, or write the whole file "
            "with `create`. The file is unchanged."
        ) from None
    return document_warnings(data)


def _check_range(view_range: Any, total: int) -> tuple[int, int]:
    if (
        not isinstance(view_range, list | tuple)
        or len(view_range) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in view_range)
    ):
        raise EditError("view_range must be a list of two whole numbers, [start, end].")
    start, end = view_range
    if start < 1 or start > max(total, 1):
        raise EditError(
            f"view_range start {start} is out of range: the file has {total} lines (lines count from 1)."
        )
    if end == -1:
        end = total
    if end < start:
        raise EditError(f"view_range end {end} is before its start {start} (use -1 for the end).")
    if end > total:
        raise EditError(f"view_range end {end} is past the end: the file has {total} lines.")
    return start, end
