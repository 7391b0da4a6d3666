from engine.diffing import changed_key_paths, diff_stat, unified_diff

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
