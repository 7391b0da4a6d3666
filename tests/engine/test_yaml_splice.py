"""An edit inside list items re-parses only those items (``load_edited``): whatever the
edit, the result, the error and the item positions are those of parsing the whole text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diffing import changed_key_paths, unified_diff
from engine.errors import YamlError
from engine.yaml_text import (
    _PARSED,
    MAX_NESTING,
    _parse_events,
    _splice,
    check_text,
    load_edited,
    parse_plain,
)
from tests.fakes.scripts import big_score

SAMPLES = sorted((Path(__file__).parents[2] / "data" / "scorecards").rglob("*.yaml"))
DOCS = [path.read_text() for path in SAMPLES] + [big_score(12)]

#: Lines an edit may bring in: ordinary ones and ones that change the structure.
TRICKY = [
    "  - name: extra",
    "    class: Classifier",
    "    valid_classes: [Yes, No]",
    "  # a comment",
    "# a comment at the margin",
    "",
    "   ",
    "\t- tabbed",
    "    x: \t1",
    "  - &shared anchored",
    "  - *shared",
    "    ref: *missing",
    "---",
    "...",
    "%YAML 1.2",
    "    text: |+",
    "      kept",
    "    folded: >",
    '    quoted: "open',
    '      closed"',
    "    flow: [a,",
    "      b]",
    "  -",
    "  - - nested",
    "      - deeper",
    "top: level",
    "  name: duplicate",
    "- margin item",
    "    - inner item",
    "      30",
    "    days: 30",
    "    empty:",
    "  - name: x\r",
    "\ufeff  - bom",
    "    line\u2028break",
    "  ? complex",
    "  ? - sequence key",
    "    {{text}}",
    "    key: {a: [b, c]}",
    "  : value",
    "    !!str tagged: value",
]


def whole(text: str) -> tuple[str, Any]:
    try:
        return "ok", _parse_events(text).data
    except YamlError as exc:
        return "error", str(exc)


def edited(before: str, after: str) -> tuple[str, Any]:
    try:
        return "ok", load_edited(before, after)
    except YamlError as exc:
        return "error", str(exc)


def fresh(before: str) -> bool:
    """Forget every parse but ``before``'s; False when ``before`` itself is invalid."""
    _PARSED.entries.clear()
    try:
        parse_plain(before)
    except YamlError:
        return False
    return True


def assert_same_as_whole(before: str, after: str) -> None:
    got = edited(before, after)
    assert got == whole(after)
    if got[0] == "ok":
        assert parse_plain(after).items == _parse_events(after).items


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    before = draw(st.sampled_from(DOCS))
    lines = before.split("\n")
    start = draw(st.integers(1, len(lines) - 1))
    end = draw(st.integers(start, min(len(lines), start + 8)))
    indented = st.builds(
        lambda line, pad: " " * pad + line.lstrip(" "),
        st.sampled_from(lines + TRICKY), st.sampled_from([0, 2, 4, 4, 6, 6, 8]),
    )  # fmt: skip
    pool = st.one_of(st.sampled_from(TRICKY), st.sampled_from(lines), indented)
    new = draw(st.lists(pool, max_size=6))
    return before, "\n".join(lines[:start] + new + lines[end:])


@st.composite
def small_edits(draw: st.DrawFn) -> tuple[str, str]:
    """One line changed the way a model edits: its text or its indentation, kept or moved."""
    before = draw(st.sampled_from(DOCS))
    lines = before.split("\n")
    at = draw(st.integers(1, len(lines) - 2))
    line = lines[at]
    pad = len(line) - len(line.lstrip(" "))
    new = draw(
        st.one_of(
            st.builds(lambda t: " " * pad + t.lstrip(" "), st.sampled_from(TRICKY + lines)),
            st.builds(lambda d: " " * max(pad + d, 0) + line.lstrip(" "), st.sampled_from([-2, 2])),
            st.builds(lambda w: line + w, st.sampled_from([" more", ": x", " #", " |", " [a,"])),
            st.just(line + "\n" + line),
        )
    )
    return before, "\n".join([*lines[:at], *new.split("\n"), *lines[at + 1 :]])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit=st.one_of(edits(), small_edits()))
def test_any_line_edit_parses_as_the_whole_text_does(edit: tuple[str, str]) -> None:
    before, after = edit
    if fresh(before):
        assert_same_as_whole(before, after)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=edits(), data=st.data())
def test_a_second_edit_builds_on_a_spliced_first(
    first: tuple[str, str], data: st.DataObject
) -> None:
    before, middle = first
    if not fresh(before):
        return
    try:
        load_edited(before, middle)
    except YamlError:
        return
    lines = middle.split("\n")
    start = data.draw(st.integers(1, len(lines) - 1))
    end = data.draw(st.integers(start, min(len(lines), start + 4)))
    new = data.draw(st.lists(st.sampled_from(TRICKY + lines), max_size=4))
    after = "\n".join(lines[:start] + new + lines[end:])
    assert_same_as_whole(middle, after)


def node_edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1
    return text.replace(old, new)


def test_an_edit_inside_a_node_is_spliced_and_shares_the_other_nodes() -> None:
    before = big_score(200)
    after = node_edit(before, "      Prompt number 120.\n", "      Prompt 120 reworded.\n")
    assert fresh(before)
    spliced = _splice(before, parse_plain(before), after)
    assert spliced is not None, "an edit inside one node must not re-parse the whole file"
    assert spliced.data == _parse_events(after).data
    old_graph, new_graph = parse_plain(before).data["graph"], spliced.data["graph"]
    assert new_graph[119] is old_graph[119] and new_graph[121] is old_graph[121]
    assert new_graph[120] is not old_graph[120]
    assert new_graph[120]["system_message"] == "Prompt 120 reworded.\n"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a second node added after one
        ("  - name: node_3\n", "  - name: node_3b\n    class: Classifier\n  - name: node_3\n"),
        # a node's prompt becomes a literal block keeping its trailing blank lines
        ("    system_message: >\n      Prompt number 5.\n",
         "    system_message: |+\n      Prompt number 5.\n\n\n"),
        # a key of a node moved in (more indented) and out again
        ("    class: Classifier\n    valid_classes: [\"Yes\", \"No\"]\n    system_message: >\n"
         "      Prompt number 7.\n",
         "    class: Classifier\n    valid_classes:\n      - \"Yes\"\n      - \"No\"\n"
         "    system_message: >\n      Prompt number 7.\n"),
    ],
)  # fmt: skip
def test_structural_edits_inside_the_graph_are_spliced_correctly(old: str, new: str) -> None:
    before = big_score(10)
    after = node_edit(before, old, new)
    assert fresh(before)
    assert _splice(before, parse_plain(before), after) is not None
    assert_same_as_whole(before, after)


@pytest.mark.parametrize(
    "new",
    [
        "      Prompt number 4.\n  &node anchored: x\n",  # an anchor others could use
        "      Prompt number 4.\n# margin comment\n    more: x\n",  # the item is cut
        "      Prompt number 4.\n---\n",  # a second document
        "      Prompt number 4.\n    dup: 1\n    dup: 2\n",  # a duplicate key
        '      Prompt number 4.\n    q: "never closed\n',
        "      Prompt number 4.\n\tclass: x\n",  # a tab as indentation
    ],
)
def test_edits_that_reach_outside_their_items_get_the_whole_files_answer(new: str) -> None:
    before = big_score(10)
    after = node_edit(before, "      Prompt number 4.\n", new)
    assert fresh(before)
    assert_same_as_whole(before, after)


def flow_nest(levels: int) -> str:
    """A document ``levels`` deep: the root mapping, then flow lists inside each other."""
    return "x: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def block_nest(levels: int) -> str:
    """The same depth in block style: a mapping in a mapping, one indent a level."""
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"


@pytest.mark.parametrize("nest", [flow_nest, block_nest])
def test_nesting_past_the_limit_is_one_error_naming_the_line(nest: Any) -> None:
    assert whole(nest(MAX_NESTING))[0] == "ok"
    outcome, message = whole(nest(MAX_NESTING + 1))
    assert outcome == "error" and f"nests more than {MAX_NESTING} levels deep" in message
    assert "line " in message


def test_a_hostile_nest_is_refused_before_the_parser_works_through_it() -> None:
    # 50,000 levels took the parser minutes; the check stops at the limit.
    result = check_text(flow_nest(50_000))
    assert not result.ok and "nests more than" in str(result.error)


def test_an_item_nested_past_the_limit_gets_the_whole_files_answer() -> None:
    """Inside a node the limit counts the levels above the item too: an edit whose
    item alone is within the limit, but the document is not, is refused as a whole
    parse refuses it."""
    before = big_score(10)
    # root mapping, graph list, node mapping: three levels above the lists added.
    deep = "[" * (MAX_NESTING - 2) + "]" * (MAX_NESTING - 2)
    after = node_edit(before, "  - name: node_4\n", f"  - name: node_4\n    deep: {deep}\n")
    shallower = after.replace(deep, deep[1:-1])
    assert fresh(before)
    # The edit stays inside the node, so it is one the splice takes on.
    assert _splice(before, parse_plain(before), shallower) is not None
    assert_same_as_whole(before, shallower)
    assert edited(before, shallower)[0] == "ok"
    assert fresh(before)
    assert_same_as_whole(before, after)
    assert edited(before, after)[0] == "error"


@pytest.mark.parametrize("comment", ["# at the margin", "  # at the items' column"])
def test_a_comment_inside_an_item_does_not_end_it(comment: str) -> None:
    """The keys after a comment line still belong to the item: an edit before the
    comment once re-parsed the item without them, and a key made twice across the
    comment passed the check (found by hypothesis)."""
    before = (
        "name: X\ngraph:\n  - name: a\n    class: X\n"
        f"{comment}\n    valid: 1\n  - name: b\n    class: Y\n"
    )
    after = before.replace("    class: X\n", "    class: Z\n")
    assert fresh(before)
    assert_same_as_whole(before, after)
    assert edited(before, after)[1]["graph"][0] == {"name": "a", "class": "Z", "valid": 1}
    twice = before.replace("    valid: 1\n", "    class: W\n")
    assert fresh(before)
    assert_same_as_whole(before, twice)
    assert edited(before, twice)[0] == "error"


def test_the_diff_and_key_paths_of_a_spliced_edit() -> None:
    before = big_score(300)
    after = node_edit(before, "      Prompt number 250.\n", "      Prompt 250 reworded.\n")
    assert fresh(before)
    load_edited(before, after)
    assert changed_key_paths(before, after) == ["graph[250].system_message"]
    diff = unified_diff(before, after)
    line = before.split("\n").index("      Prompt number 250.") + 1
    assert f"@@ -{line - 3},7 +{line - 3},7 @@" in diff
    assert "-      Prompt number 250.\n+      Prompt 250 reworded.\n" in diff
    assert patched(before, diff) == after


def patched(text: str, diff: str) -> str:
    """``text`` with a unified diff applied (the hunks' line numbers are trusted)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    body = diff.splitlines(keepends=True)[2:]
    for row in body:
        if row.startswith("@@"):
            start = int(row.split()[1].lstrip("-").split(",")[0])
            count = row.split()[1].split(",")
            begin = start - 1 if len(count) == 1 or count[1] != "0" else start
            out.extend(lines[at:begin])
            at = begin
        elif row.startswith("-"):
            at += 1
        elif row.startswith("+"):
            out.append(row[1:])
        elif row.startswith(" "):
            out.append(lines[at])
            at += 1
    out.extend(lines[at:])
    return "".join(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit=edits())
def test_a_diff_applied_to_the_old_text_gives_the_new(edit: tuple[str, str]) -> None:
    before, after = edit
    if "\r" in after or "\u2028" in after or not after.endswith("\n"):
        return  # line ends are normalised to "\n" in diffs (tested in test_diffing)
    assert patched(before, unified_diff(before, after)) == after
