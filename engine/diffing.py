"""Unified diffs between two texts and the YAML key paths that changed."""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

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
    a, b = a[skip : len(a) - keep_tail], b[skip : len(b) - keep_tail]
    diff: Iterable[str]
    if len(a) * len(b) <= MATCH_BUDGET:
        diff = difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", n=context)
    else:
        diff = _unified(_AnchoredMatcher(a, b), f"a/{path}", f"b/{path}", context)
    lines = []
    for line in diff:
        if skip and line.startswith("@@"):
            line = _shifted_hunk(line, skip)
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


#: Above this many line pairs (old lines times new lines of the changed stretch),
#: difflib's matching, quadratic at worst, gives way to ``_AnchoredMatcher``: a
#: 100,000-line file with every other line changed took difflib seven minutes.
MATCH_BUDGET = 4_000_000
#: How deeply the anchored matching looks for anchors inside the stretches between
#: anchors before it treats a stretch as it treats one without anchors.
MAX_ANCHOR_DEPTH = 32

Tag = Literal["replace", "delete", "insert", "equal"]
Opcode = tuple[Tag, int, int, int, int]


class _AnchoredMatcher(difflib.SequenceMatcher[str]):
    """Opcodes from the lines that occur once in each text, in the same order, first
    (the patience diff's anchors); the stretches between anchors are matched the same
    way, and by difflib once small. A stretch with no anchor that is still larger than
    ``MATCH_BUDGET`` is shown as replaced whole. Work grows about linearly."""

    def __init__(self, a: list[str], b: list[str]) -> None:
        super().__init__(None, a, b, autojunk=False)
        self.old, self.new = a, b
        self._anchored: list[Opcode] | None = None

    def get_opcodes(self) -> list[Opcode]:
        if self._anchored is None:
            ops: list[Opcode] = []
            _match(self.old, self.new, 0, len(self.old), 0, len(self.new), ops, 0)
            self._anchored = _merged(ops)
        return self._anchored


def _match(
    a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int, ops: list[Opcode],
    depth: int,
) -> None:  # fmt: skip
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        ops.append(("equal", alo, alo + 1, blo, blo + 1))
        alo, blo = alo + 1, blo + 1
    same_tail = 0
    while (
        alo < ahi - same_tail
        and blo < bhi - same_tail
        and a[ahi - 1 - same_tail] == b[bhi - 1 - same_tail]
    ):
        same_tail += 1
    ahi, bhi = ahi - same_tail, bhi - same_tail
    if alo < ahi and blo < bhi:
        anchors = _anchors(a, b, alo, ahi, blo, bhi) if depth < MAX_ANCHOR_DEPTH else []
        if anchors:
            i, j = alo, blo
            for ai, bj in anchors:
                _match(a, b, i, ai, j, bj, ops, depth + 1)
                ops.append(("equal", ai, ai + 1, bj, bj + 1))
                i, j = ai + 1, bj + 1
            _match(a, b, i, ahi, j, bhi, ops, depth + 1)
        elif (ahi - alo) * (bhi - blo) <= MATCH_BUDGET:
            small = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            for tag, i1, i2, j1, j2 in small.get_opcodes():
                ops.append((tag, i1 + alo, i2 + alo, j1 + blo, j2 + blo))
        else:
            ops.append(("replace", alo, ahi, blo, bhi))
    elif alo < ahi or blo < bhi:
        ops.append(("delete" if alo < ahi else "insert", alo, ahi, blo, bhi))
    ops.extend(("equal", ahi + k, ahi + k + 1, bhi + k, bhi + k + 1) for k in range(same_tail))


def _anchors(
    a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines that occur once in ``a[alo:ahi]`` and once in
    ``b[blo:bhi]``, the longest run of them in the same order in both."""
    once_a: dict[str, int] = {}
    for i in range(alo, ahi):
        once_a[a[i]] = -1 if a[i] in once_a else i
    once_b: dict[str, int] = {}
    for j in range(blo, bhi):
        once_b[b[j]] = -1 if b[j] in once_b else j
    pairs = sorted(
        (i, once_b[line]) for line, i in once_a.items() if i >= 0 and once_b.get(line, -1) >= 0
    )
    # The longest increasing run of j (patience sorting): piles' tops, and back links.
    tops: list[int] = []
    top_at: list[int] = []
    back: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pile = bisect.bisect_left(tops, j)
        if pile == len(tops):
            tops.append(j)
            top_at.append(k)
        else:
            tops[pile] = j
            top_at[pile] = k
        back[k] = top_at[pile - 1] if pile else -1
    run: list[tuple[int, int]] = []
    k = top_at[-1] if top_at else -1
    while k >= 0:
        run.append(pairs[k])
        k = back[k]
    return run[::-1]


def _merged(ops: list[Opcode]) -> list[Opcode]:
    """Adjacent opcodes joined: runs of equal lines into one, and changes next to each
    other into one replace (as difflib gives them)."""
    out: list[Opcode] = []
    for tag, i1, i2, j1, j2 in ops:
        if out:
            last_tag, li1, _, lj1, _ = out[-1]
            if tag == "equal" and last_tag == "equal":
                out[-1] = ("equal", li1, i2, lj1, j2)
                continue
            if tag != "equal" and last_tag != "equal":
                joined: Tag = "replace" if i2 > li1 and j2 > lj1 else "delete"
                if j2 > lj1 and i2 == li1:
                    joined = "insert"
                out[-1] = (joined, li1, i2, lj1, j2)
                continue
        out.append((tag, i1, i2, j1, j2))
    return out


def _unified(matcher: _AnchoredMatcher, fromfile: str, tofile: str, context: int) -> list[str]:
    """``difflib.unified_diff``'s lines, from ``matcher``'s opcodes."""
    a, b = matcher.old, matcher.new
    lines: list[str] = []
    for group in matcher.get_grouped_opcodes(context):
        if not lines:
            lines += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        old, new = _range(first[1], last[2]), _range(first[3], last[4])
        lines.append(f"@@ -{old} +{new} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in a[i1:i2]]
                continue
            if tag in ("replace", "delete"):
                lines += ["-" + line for line in a[i1:i2]]
            if tag in ("replace", "insert"):
                lines += ["+" + line for line in b[j1:j2]]
    return lines


def _range(start: int, stop: int) -> str:
    """A hunk's line range as unified diffs write it (``difflib._format_range_unified``)."""
    first, length = start + 1, stop - start
    if length == 1:
        return str(first)
    return f"{first - 1 if not length else first},{length}"


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
