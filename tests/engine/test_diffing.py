import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import diffing
from engine.diffing import changed_key_paths, diff_stat, unified_diff
from tests.fakes.scripts import big_score

BEFORE = """name: X
model_name: gpt-4o-mini
graph:
  - name: a
    class: Classifier
    valid_classes: ["Yes", "No"]
  - name: b
    class: Classifier
    valid_classes: ["Yes", "No"]
data:
  limit: 100
"""


def test_unified_diff_and_stat() -> None:
    after = BEFORE.replace("limit: 100", "limit: 300")
    diff = unified_diff(BEFORE, after, "Card/Score.yaml")
    assert diff.startswith("--- a/Card/Score.yaml\n+++ b/Card/Score.yaml\n@@")
    assert "-  limit: 100\n+  limit: 300\n" in diff
    stat = diff_stat(diff)
    assert (stat.added, stat.removed) == (1, 1)
    assert unified_diff(BEFORE, BEFORE) == ""


def test_key_paths() -> None:
    after = BEFORE.replace("model_name: gpt-4o-mini", "model_name: gpt-4o").replace(
        '  - name: b\n    class: Classifier\n    valid_classes: ["Yes", "No"]',
        '  - name: b\n    class: Classifier\n    valid_classes: ["Yes", "No", "NA"]',
    )
    assert changed_key_paths(BEFORE, after) == ["model_name", "graph[1].valid_classes"]
    assert changed_key_paths(BEFORE, BEFORE + "new_key: 1\n") == ["new_key"]
    assert changed_key_paths(
        BEFORE, BEFORE.replace('"Yes", "No"]\n  - name: b', '"Yes", "Maybe"]\n  - name: b')
    ) == ["graph[0].valid_classes[1]"]
    assert changed_key_paths(BEFORE, "not: [valid") == []


def test_comment_only_change_has_a_diff_but_no_key_paths() -> None:
    after = "# a comment\n" + BEFORE
    assert unified_diff(BEFORE, after)
    assert changed_key_paths(BEFORE, after) == []


def test_crlf_is_compared_as_lines() -> None:
    crlf = BEFORE.replace("\n", "\r\n")
    assert unified_diff(BEFORE, crlf) == ""


def applied(text: str, diff: str) -> str:
    """``text`` with ``diff`` applied, every context and removed line checked."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for row in diff.splitlines(keepends=True)[2:]:
        if row.startswith("@@"):
            old = row.split()[1].lstrip("-").split(",")
            begin = int(old[0]) - (0 if len(old) == 2 and old[1] == "0" else 1)
            assert begin >= at
            out.extend(lines[at:begin])
            at = begin
        elif row.startswith("\\"):
            continue
        else:
            if row[0] in " -":
                assert lines[at] == row[1:], (at, lines[at], row)
                at += 1
            if row[0] in " +":
                out.append(row[1:])
    return "".join(out + lines[at:])


# Few distinct lines: repeated ones (never anchors) and ones that occur once.
LINES = st.lists(st.sampled_from([f"{w}\n" for w in ("a", "b", "c", "d", "x1", "x2", "x3")]))


@settings(max_examples=300, deadline=None)
@given(before=LINES, after=LINES, budget=st.sampled_from([0, 4, 10**9]))
def test_every_diff_applies_to_give_the_new_text(
    before: list[str], after: list[str], budget: int
) -> None:
    """Whichever way the lines are matched (difflib within the budget, anchors beyond
    it, a stretch replaced whole when it has no anchor), the diff is a true one."""
    old, new = "".join(before), "".join(after)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diffing, "MATCH_BUDGET", budget)
        diff = unified_diff(old, new)
    assert applied(old, diff) == new
    stat = diff_stat(diff)
    assert stat.added - stat.removed == len(after) - len(before)


def test_a_whole_rewrite_of_a_big_score_is_a_diff_of_its_changed_lines() -> None:
    """100,000 lines, every other one changed: difflib alone took seven minutes; the
    anchored matching pairs each unchanged line with itself."""
    before = big_score(20_000)
    after = "".join(
        line if i % 2 else line.rstrip("\n") + " # checked\n"
        for i, line in enumerate(before.splitlines(keepends=True))
    )
    diff = unified_diff(before, after)
    assert applied(before, diff) == after
    changed = len(before.splitlines()) // 2 + len(before.splitlines()) % 2
    assert diff_stat(diff) == diffing.DiffStat(changed, changed)
    # Two edits far apart stay two small hunks.
    far = before.replace("Prompt number 100.", "P").replace("Prompt number 19000.", "Q")
    assert diff_stat(unified_diff(before, far)) == diffing.DiffStat(2, 2)
    assert unified_diff(before, far).count("@@ -") == 2
