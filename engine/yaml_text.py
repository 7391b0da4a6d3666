"""YAML text: parsing (a fast parser-event loader for checks, round-trip for structure),
the parser's errors as one sentence, and the checks of a whole document."""

from __future__ import annotations

import bisect
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from engine.errors import YamlError
from engine.score_checks import score_warnings


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def parse_yaml(text: str) -> Any:
    """Parse in round-trip mode (comments and order kept), or raise ``YamlError``."""
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        raise _marked_error(exc, text) from None
    except YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "cannot parse") from None
    except Exception as exc:  # ruamel raises a few non-YAMLError types on odd input
        raise YamlError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
#: A plain (unquoted) integer, as YAML 1.2's core schema reads one; quoted "30" stays text.
_PLAIN_INT = re.compile(r"[-+]?[0-9]+")

#: Where one item of a block sequence starts: (line, column, the list's key path, index).
Item = tuple[int, int, tuple[Any, ...], int]


class Parsed:
    """A document as plain data, with where each block-sequence item starts.

    The item positions let an edit that stays inside some items of a list re-parse only
    those items (``load_edited``); a document with anchors, aliases or collections as
    keys (``whole_only``) is always parsed whole.
    """

    __slots__ = ("_starts", "data", "items", "whole_only")

    def __init__(self, data: Any, items: list[Item], whole_only: bool) -> None:
        self.data = data
        self.items = items
        self.whole_only = whole_only
        self._starts: dict[tuple[int, int], tuple[tuple[Any, ...], int]] | None = None

    def item_at(self, line: int, column: int) -> tuple[tuple[Any, ...], int] | None:
        if self._starts is None:
            self._starts = {(i[0], i[1]): (i[2], i[3]) for i in self.items}
        return self._starts.get((line, column))


class _Cache:
    """The last few parses, by text (edits run in worker threads, hence the lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, Parsed] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, text: str) -> Parsed | None:
        with self.lock:
            parsed = self.entries.get(text)
            if parsed is not None:
                self.entries.move_to_end(text)
            return parsed

    def put(self, text: str, parsed: Parsed) -> None:
        with self.lock:
            self.entries[text] = parsed
            self.entries.move_to_end(text)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_PARSED = _Cache(16)


def load_plain(text: str) -> Any:
    """Parse ``text`` into plain dicts, lists and strings, or raise ``YamlError``.

    The checks that run on every edit (validity, score checks, changed key paths) need
    the document's shape, not ruamel's round-trip objects: this builds it straight from
    the parser's events (ruamel's C parser when ``ruamel.yaml.clib`` is present), about
    thirty times faster than a round-trip load. Scalars stay strings, but plain nulls
    become ``None`` and plain integers ``int`` (so `days: 30` and `days: "30"` differ,
    as they do to Plexus); duplicate keys and extra documents are errors, as they are for ruamel.
    Results are cached by text, so one edit parses the new text once. The result is
    shared: never change it.
    """
    return parse_plain(text).data


def parse_plain(text: str) -> Parsed:
    parsed = _PARSED.get(text)
    if parsed is None:
        parsed = _parse_events(text)
        _PARSED.put(text, parsed)
    return parsed


def load_edited(before: str, after: str) -> Any:
    """``load_plain(after)``, re-parsing only the items an edit of ``before`` touched.

    When the lines that changed lie inside whole items of one block sequence (a node of
    ``graph``, say) and ``before`` was parsed lately, only those items are parsed again
    and spliced into ``before``'s data; the other values are shared with it. Anything
    else (the edit reaches outside a list item, anchors, tabs or odd line breaks, or
    the items do not parse on their own) parses the whole text, so errors are always
    the whole parse's errors.
    """
    parsed = _PARSED.get(after)
    if parsed is None:
        base = _PARSED.get(before)
        parsed = _splice(before, base, after) if base is not None else None
        if parsed is None:
            parsed = _parse_events(after)
        _PARSED.put(after, parsed)
    return parsed.data


#: How deeply mappings and lists may nest. A score nests about ten levels; thousands
#: (``[[[[...``) would make the parser's work grow with the square of the depth (50,000
#: levels: minutes) and every walk of the document recurse that deep.
MAX_NESTING = 200


def _parse_events(text: str, outer: int = 0) -> Parsed:
    """``text`` as plain data; ``outer`` is how deeply the text's root nests in a larger
    document (for a spliced part), so that the nesting limit is the whole document's."""
    # Each stack entry: [container, pending key, key path, is a block sequence].
    stack: list[list[Any]] = []
    anchors: dict[str, Any] = {}
    items: list[Item] = []
    whole_only = False
    root: Any = None
    documents = 0
    try:
        for event in _fast_yaml().parse(text):
            kind = type(event)
            if kind is ScalarEvent:
                value: Any = event.value
                if not event.style:
                    if value in _NULLS:
                        value = None
                    elif _PLAIN_INT.fullmatch(value) and len(value) < 19:
                        value = int(value)
            elif kind is MappingStartEvent:
                value = {}
            elif kind is SequenceStartEvent:
                value = []
            elif kind is AliasEvent:
                whole_only = True
                if event.anchor not in anchors:
                    raise YamlError(f"found undefined alias {event.anchor!r}", *_position(event))
                value = anchors[event.anchor]
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                stack.pop()
                continue
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlError("the file holds more than one YAML document", *_position(event))
                continue
            else:
                continue
            anchor = getattr(event, "anchor", None)
            if anchor and kind is not AliasEvent:
                anchors[anchor] = value
                whole_only = True
            place: Any = None
            if stack:
                top = stack[-1]
                container = top[0]
                if type(container) is list:
                    place = len(container)
                    container.append(value)
                    if top[3]:
                        mark = event.start_mark
                        items.append((mark.line, mark.column, top[2], place))
                elif top[1] is _NO_KEY:
                    key = value if isinstance(value, str) else str(value)
                    if key in container:
                        raise YamlError(f"duplicate key {key!r}", *_position(event))
                    top[1] = key
                    if kind is not MappingStartEvent and kind is not SequenceStartEvent:
                        continue
                    whole_only = True  # a collection as a key: its items have no key path
                else:
                    place = top[1]
                    container[place] = value
                    top[1] = _NO_KEY
            else:
                root = value
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) + outer >= MAX_NESTING:
                    raise YamlError(
                        f"the document nests more than {MAX_NESTING} levels deep",
                        *_position(event),
                    )
                path = (*stack[-1][2], place) if stack else ()
                block_list = kind is SequenceStartEvent and not event.flow_style
                stack.append([value, _NO_KEY, path, block_list])
    except MarkedYAMLError as exc:
        raise _marked_error(exc, text) from None
    except YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "cannot parse") from None
    return Parsed(root, items, whole_only)


_NO_KEY = object()

#: Characters that make line numbers ambiguous between this module and the parser.
_ODD_TEXT = ("\r", "\x85", "\u2028", "\u2029", "\ufeff", "\t")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _splice(before: str, base: Parsed, after: str) -> Parsed | None:
    """``after``'s parse from ``before``'s, or ``None`` when the edit is not a splice."""
    if base.whole_only or any(odd in after for odd in _ODD_TEXT):
        return None
    old = before.split("\n")
    new = after.split("\n")
    shortest = min(len(old), len(new))
    first = 0
    while first < shortest and old[first] == new[first]:
        first += 1
    same_tail = 0
    while same_tail < shortest - first and old[-1 - same_tail] == new[-1 - same_tail]:
        same_tail += 1
    old_end = len(old) - same_tail  # old[first:old_end] became new[first:len(new) - same_tail]
    for start in range(min(first, len(old) - 1), 0, -1):
        line = old[start]
        column = _indent(line)
        if not line.startswith("- ", column) or line[column + 2 : column + 3] in ("", " "):
            continue
        found = base.item_at(start, column + 2)
        if found is None:
            continue
        chunk = _chunk(old, start, column, max(old_end, start + 1), found[0], base)
        if chunk is None:
            continue
        end, replaced = chunk
        return _spliced(base, new, start, end, len(new) - len(old), column, found, replaced)
    return None


def _chunk(
    lines: list[str],
    start: int,
    column: int,
    changed_end: int,
    path: tuple[Any, ...],
    base: Parsed,
) -> tuple[int, int] | None:
    """The end of the run of sibling items from ``start`` covering ``changed_end``, and how
    many items it holds; ``None`` when a line between belongs to something else."""
    count = 1
    end = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip(" ")
        # A comment line ends nothing, wherever it starts: the item goes on after it
        # (``_spliced`` then leaves a chunk holding one at the items' column whole).
        if stripped and not stripped.startswith("#"):
            indent = len(line) - len(stripped)
            if indent < column:
                break
            if indent == column:
                sibling = base.item_at(end, column + 2) if stripped.startswith("- ") else None
                if sibling is None or sibling[0] != path:
                    break
                if end >= changed_end:
                    break
                count += 1
        end += 1
    if end < changed_end:
        return None
    return end, count


def _spliced(
    base: Parsed,
    new: list[str],
    start: int,
    old_end: int,
    moved: int,
    column: int,
    found: tuple[tuple[Any, ...], int],
    replaced: int,
) -> Parsed | None:
    """Parse the new text of the items (lines ``start`` to ``old_end + moved`` of ``new``,
    sequence items at ``column``) on their own, and splice them into ``base``."""
    end = old_end + moved
    if end <= start or _indent(new[start]) != column or not new[start].startswith("- ", column):
        return None
    for line in new[start + 1 : end]:
        stripped = line.lstrip(" ")
        sibling = stripped == "-" or stripped.startswith("- ")
        if (
            stripped
            and len(line) - len(stripped) <= column
            and not (sibling and len(line) - len(stripped) == column)
        ):
            return None
    text = "\n".join(line[column:] for line in new[start:end])
    if end < len(new):
        text += "\n"  # the items' last line break (at the end of the file, the file's own)
    try:
        part = _parse_events(text, outer=len(found[0]))
    except YamlError:
        return None
    if part.whole_only or type(part.data) is not list or not part.data:
        return None
    path, index = found
    data = _replaced(base.data, path, index, replaced, part.data)
    shift = len(part.data) - replaced
    depth = len(path)
    items = base.items[: _first_at(base.items, start)]
    where: tuple[Any, ...]
    at: int
    for number, col, where, at in part.items:
        if where:
            where = (*path, int(where[0]) + index, *where[1:])
        else:
            where, at = path, at + index
        items.append((number + start, col + column, where, at))
    for number, col, where, at in base.items[_first_at(base.items, old_end) :]:
        if shift and where[:depth] == path:
            if len(where) == depth:
                at += shift
            else:
                where = (*path, where[depth] + shift, *where[depth + 1 :])
        items.append((number + moved, col, where, at))
    return Parsed(data, items, False)


def _first_at(items: list[Item], line: int) -> int:
    return bisect.bisect_left(items, line, key=lambda item: item[0])


def _replaced(root: Any, path: tuple[Any, ...], index: int, count: int, values: list[Any]) -> Any:
    """A copy of ``root`` with ``count`` items of the list at ``path`` from ``index``
    replaced by ``values``; only the containers on the path are copied."""
    top = copied = _shallow(root)
    for key in path:
        child = _shallow(copied[key])
        copied[key] = child
        copied = child
    copied[index : index + count] = values
    return top


def _shallow(value: Any) -> Any:
    return dict(value) if type(value) is dict else list(value)


def _position(event: Any) -> tuple[int | None, int | None]:
    mark = getattr(event, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


@lru_cache(maxsize=1)
def _fast_yaml() -> YAML:
    return YAML(typ="safe")


def _marked_error(exc: MarkedYAMLError, text: str) -> YamlError:
    """The parser's error with its position; a tab used as indentation is named as such.

    Tabs are only looked for once the parser has failed: a tab inside a block scalar's
    text is valid YAML and must not be refused.
    """
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "cannot parse"
    if mark is None:
        return YamlError(message)
    lines = text.splitlines()
    for number in (mark.line, mark.line - 1):
        if 0 <= number < len(lines):
            line = lines[number]
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            if "\t" in indent and line.strip():
                return YamlError(
                    "a tab character is used for indentation", number + 1, indent.index("\t") + 1
                )
    return YamlError(message, mark.line + 1, mark.column + 1)


def dump_yaml(data: Any) -> str:
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a score's text: an error (invalid YAML) or warnings."""

    error: YamlError | None
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return self.error is None


def yaml_problem(text: str) -> str | None:
    """Why ``text`` is not valid YAML (``YamlError.detail``), or ``None`` when it is."""
    try:
        load_plain(text)
    except YamlError as exc:
        return exc.detail
    return None


def check_text(text: str) -> CheckResult:
    try:
        data = load_plain(text)
    except YamlError as exc:
        return CheckResult(exc, [])
    return CheckResult(None, document_warnings(data))


def document_warnings(data: Any) -> list[str]:
    """Score checks for a score file, or for each score a scorecard file lists."""
    if isinstance(data, dict) and isinstance(data.get("scores"), list) and "graph" not in data:
        warnings: list[str] = []
        for index, entry in enumerate(data["scores"]):
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"scores[{index}]" + (f" ({name})" if name else "")
            warnings.extend(f"{where}: {w}" for w in score_warnings(entry))
        return warnings
    return score_warnings(data)
