"""YAML text: parsing (a fast parser-event loader for checks, round-trip for structure),
the parser's errors as one sentence, and the checks of a whole document."""

from __future__ import annotations

import io
import re
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


@lru_cache(maxsize=16)
def load_plain(text: str) -> Any:
    """Parse ``text`` into plain dicts, lists and strings, or raise ``YamlError``.

    The checks that run on every edit (validity, score checks, changed key paths) need
    the document's shape, not ruamel's round-trip objects: this builds it straight from
    the parser's events (ruamel's C parser when ``ruamel.yaml.clib`` is present), about
    thirty times faster than a round-trip load. Scalars stay strings, but plain nulls
    become ``None`` and plain integers ``int`` (so `days: 30` and `days: "30"` differ,
    as they do to Plexus); duplicate keys and extra documents are errors, as they are for ruamel.
    Results are cached by text, so one edit parses the new text once.
    """
    stack: list[list[Any]] = []
    anchors: dict[str, Any] = {}
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
            if stack:
                top = stack[-1]
                container = top[0]
                if type(container) is list:
                    container.append(value)
                elif top[1] is _NO_KEY:
                    key = value if isinstance(value, str) else str(value)
                    if key in container:
                        raise YamlError(f"duplicate key {key!r}", *_position(event))
                    top[1] = key
                else:
                    container[top[1]] = value
                    top[1] = _NO_KEY
            else:
                root = value
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                stack.append([value, _NO_KEY])
    except MarkedYAMLError as exc:
        raise _marked_error(exc, text) from None
    except YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "cannot parse") from None
    return root


_NO_KEY = object()


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
