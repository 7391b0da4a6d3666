"""Unified diffs between two texts and the YAML key paths that changed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import YamlError
from engine.yaml_text import load_plain


def unified_diff(before: str, after: str, path: str = "score.yaml", context: int = 3) -> str:
    """A unified diff (``---``/``+++`` headers, ``@@`` hunks); empty when the texts are equal."""
    if before == after:
        return ""
    a = before.replace("\r\n", "\n").splitlines(keepends=True)
    b = after.replace("\r\n", "\n").splitlines(keepends=True)
    # Lines the texts share at both ends are left out of the matching (it is quadratic at
    # worst), keeping enough of them for the context; hunk numbers are then put back.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    skip = max(head - context, 0)
    keep_tail = max(tail - context, 0)
    lines = []
    diff = difflib.unified_diff(
        a[skip : len(a) - keep_tail], b[skip : len(b) - keep_tail], f"a/{path}", f"b/{path}",
        n=context,
    )  # fmt: skip
    for line in diff:
        if skip and line.startswith("@@"):
            line = _shifted_hunk(line, skip)
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


_HUNK = re.compile(r"@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _shifted_hunk(header: str, lines: int) -> str:
    """A hunk header of a diff of texts cut ``lines`` from their start, made whole again."""

    def shift(match: re.Match[str]) -> str:
        old, old_count, new, new_count = match.groups()
        return f"@@ -{int(old) + lines}{old_count or ''} +{int(new) + lines}{new_count or ''} @@"

    return _HUNK.sub(shift, header, count=1)


@dataclass(frozen=True)
class DiffStat:
    added: int
    removed: int


def diff_stat(diff: str) -> DiffStat:
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return DiffStat(added, removed)


#: The most value pairs one key-path comparison looks at, and how deep it goes: YAML
#: aliases can make a small file describe an exponentially large (or cyclic) tree.
MAX_COMPARED = 50_000
MAX_DEPTH = 100


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_COMPARED
        self.seen: set[tuple[int, int]] = set()


def changed_key_paths(before: str, after: str) -> list[str]:
    """Key paths whose values differ, e.g. ``graph[1].valid_classes`` or ``model_name``.

    A list whose length changed is reported as one path; lists of equal length are
    compared item by item. When either text is not valid YAML, returns ``[]``. Shared
    (aliased) values are compared once, cycles are not followed, and the work is
    bounded: past the bound the remaining differences are reported at the level the
    walk reached.
    """
    if before == after:
        return []
    try:
        a = load_plain(before)
        b = load_plain(after)
    except YamlError:
        return []
    paths: list[str] = []
    _compare(a, b, "", paths, _Budget(), 0)
    return paths


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _compare(a: Any, b: Any, prefix: str, out: list[str], budget: _Budget, depth: int) -> None:
    if a is b:
        return  # shared by both documents: an edit re-parsed only other parts
    containers = isinstance(a, dict | list) and isinstance(b, dict | list)
    if containers:
        pair = (id(a), id(b))
        if pair in budget.seen:
            return  # an alias already compared (or a cycle)
        budget.seen.add(pair)
        budget.left -= 1
        if budget.left <= 0 or depth >= MAX_DEPTH:
            if a is not b:
                out.append(prefix or "(document)")
            return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                out.append(_join(prefix, key))
            else:
                _compare(a[key], b[key], _join(prefix, key), out, budget, depth + 1)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _compare(x, y, f"{prefix}[{index}]", out, budget, depth + 1)
        return
    if containers or type(a) is not type(b) or a != b:
        out.append(prefix or "(document)")
