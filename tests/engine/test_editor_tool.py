"""The editor tool's matrix: every command, every error text, each fallback, odd files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.editor_tool import EditorTool, ProposedEdit, replace_unique
from engine.store import Store
from tests.fakes.scripts import big_score

GREETING = "Customer Service QA/Greeting.yaml"


@pytest.fixture
def tool(workspace: Path) -> EditorTool:
    return EditorTool(workspace)


def data(workspace: Path, rel: str = GREETING) -> bytes:
    return (workspace / rel).read_bytes()


async def test_view_numbers_lines_cat_n_style(tool: EditorTool, workspace: Path) -> None:
    result = await tool.run({"command": "view", "path": GREETING})
    assert not result.is_error
    lines = result.text.splitlines()
    assert lines[0] == f"Here's the result of running `cat -n` on {GREETING}:"
    assert lines[1] == "     1\t# Checks that the agent opens the call with a proper greeting."
    assert lines[2] == "     2\tname: Greeting"
    assert len(lines) - 1 == len((workspace / GREETING).read_text().splitlines())


async def test_view_range_and_end(tool: EditorTool) -> None:
    result = await tool.run({"command": "view", "path": GREETING, "view_range": [2, 3]})
    assert result.text.splitlines()[1:] == ["     2\tname: Greeting", "     3\tkey: greeting"]
    tail = await tool.run({"command": "view", "path": GREETING, "view_range": [27, -1]})
    assert tail.text.splitlines()[1].startswith("    27\t")
    assert tail.text.splitlines()[-1] == "    32\t  limit: 100"


@pytest.mark.parametrize(
    ("view_range", "message"),
    [([0, 3], "start 0 is out of range"), ([5, 2], "before its start"), ([1, 999], "past the end"),
     ([1], "two whole numbers"), ("1-3", "two whole numbers"), ([500, -1], "out of range")],
)  # fmt: skip
async def test_view_range_errors(tool: EditorTool, view_range: object, message: str) -> None:
    result = await tool.run({"command": "view", "path": GREETING, "view_range": view_range})
    assert result.is_error and message in result.text


async def test_view_directory_lists_yaml_files(tool: EditorTool) -> None:
    result = await tool.run({"command": "view", "path": "."})
    assert "Customer Service QA/Greeting.yaml" in result.text
    assert "Sales Compliance/" in result.text
    sub = await tool.run({"command": "view", "path": "Sales Compliance"})
    assert "Sales Compliance/Product Claims.yaml" in sub.text
    assert "Greeting" not in sub.text


async def replace(tool: EditorTool, old: str, new: str, path: str = GREETING) -> Any:
    """A str_replace of ``old`` by ``new`` in ``path``, as the model sends it."""
    return await tool.run({"command": "str_replace", "path": path, "old_str": old, "new_str": new})


async def test_view_truncates_long_output(workspace: Path) -> None:
    tool = EditorTool(workspace, max_chars=2000)
    result = await tool.run({"command": "view", "path": "Sales Compliance/Product Claims.yaml"})
    assert len(result.text) < 2300
    assert "[Output cut at 2000 characters" in result.text and "view_range [" in result.text


async def test_str_replace_unique_match(tool: EditorTool, workspace: Path) -> None:
    before = data(workspace)
    result = await replace(tool, "  limit: 100", "  limit: 300")
    assert not result.is_error, result.text
    after = data(workspace)
    assert after == before.replace(b"  limit: 100", b"  limit: 300")
    assert "has been edited" in result.text and "    32\t  limit: 300" in result.text
    assert result.changed and result.before == before.decode() and result.after == after.decode()


async def test_str_replace_errors_leave_file_identical(tool: EditorTool, workspace: Path) -> None:
    before = data(workspace)
    cases = [
        ({"old_str": "nothing like this"}, "old_str was not found"),
        ({"old_str": '"Yes"', "new_str": "'Yes'"}, None),  # unique: applies (checked below)
    ]
    missing = await tool.run(
        {"command": "str_replace", "path": GREETING, **cases[0][0], "new_str": "x"}
    )
    assert missing.is_error and cases[0][1] in missing.text
    several = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "class", "new_str": "klass"}
    )
    assert several.is_error and "occurs" in several.text and "at lines 6, 11" in several.text
    same = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "name", "new_str": "name"}
    )
    assert same.is_error and "identical" in same.text
    no_old = await tool.run({"command": "str_replace", "path": GREETING, "new_str": "x"})
    assert no_old.is_error and "Missing required parameter `old_str`" in no_old.text
    no_path = await tool.run({"command": "str_replace", "old_str": "a", "new_str": "b"})
    assert no_path.is_error and "Missing required parameter `path`" in no_path.text
    bad_yaml = await tool.run(
        {
            "command": "str_replace",
            "path": GREETING,
            "old_str": "key: greeting",
            "new_str": "key: [greeting",
        }
    )
    assert (
        bad_yaml.is_error
        and "not be valid YAML (line" in bad_yaml.text
        and "unchanged" in bad_yaml.text
    )
    texts = {missing.text, several.text, same.text, no_old.text, bad_yaml.text}
    assert len(texts) == 5
    assert data(workspace) == before


async def test_no_match_error_shows_closest_lines(tool: EditorTool) -> None:
    result = await tool.run(
        {
            "command": "str_replace",
            "path": GREETING,
            "old_str": "model_name: gpt-4o-mimi",
            "new_str": "x: y",
        }
    )
    assert result.is_error
    assert (
        "closest text is at line 8" in result.text
        and "     8\tmodel_name: gpt-4o-mini" in result.text
    )


async def test_missing_new_str_deletes(tool: EditorTool, workspace: Path) -> None:
    result = await tool.run({"command": "str_replace", "path": GREETING, "old_str": "  days: 90\n"})
    assert not result.is_error
    assert b"days: 90" not in data(workspace)


async def _replaced(tool: EditorTool, old: str, new: str, path: str = "c/s.yaml") -> None:
    """A str_replace that must succeed."""
    result = await tool.run(
        {"command": "str_replace", "path": path, "old_str": old, "new_str": new}
    )
    assert not result.is_error, result.text


async def test_fallback_trailing_whitespace(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "s.yaml").write_text("name: A   \nclass: B\n")
    tool = EditorTool(tmp_path)
    await _replaced(tool, "name: A\nclass: B", "name: Z\nclass: B")
    assert (tmp_path / "c" / "s.yaml").read_text() == "name: Z\nclass: B\n"


async def test_fallback_indentation_offset_reindents_new_str(
    tool: EditorTool, workspace: Path
) -> None:
    old = 'valid_classes:\n  - "Yes"\n  - "No"'
    new = 'valid_classes:\n  - "Yes"\n  - "No"\n  - "NA"'
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": old, "new_str": new}
    )
    assert not result.is_error, result.text
    text = data(workspace).decode()
    assert (
        '    valid_classes:\n      - "Yes"\n      - "No"\n      - "NA"\n    system_message' in text
    )


async def test_fallback_line_number_prefixes(tool: EditorTool, workspace: Path) -> None:
    old = "     7\tmodel_name: gpt-4o-mini\n     8\tgraph:"
    new = "     7\tmodel_name: gpt-4o\n     8\tgraph:"
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": old, "new_str": new}
    )
    assert not result.is_error, result.text
    assert b"model_name: gpt-4o\ngraph:" in data(workspace)
    assert b"\t" not in data(workspace)


async def test_fallback_refuses_when_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    text = "a:\n  x: 1\nb:\n  x: 1\n"
    (tmp_path / "c" / "s.yaml").write_text(text)
    result = await EditorTool(tmp_path).run(
        {"command": "str_replace", "path": "c/s.yaml", "old_str": "x: 1 ", "new_str": "x: 2"}
    )
    assert result.is_error
    assert (tmp_path / "c" / "s.yaml").read_text() == text


async def test_crlf_file_keeps_crlf_inside_and_outside(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    path = tmp_path / "c" / "s.yaml"
    path.write_bytes(b"name: A\r\nclass: B\r\nkey: k\r\n")
    tool = EditorTool(tmp_path)
    await _replaced(tool, "name: A\nclass: B", "name: A\nclass: C\nid: '1'")
    assert path.read_bytes() == b"name: A\r\nclass: C\r\nid: '1'\r\nkey: k\r\n"
    inserted = await tool.run(
        {"command": "insert", "path": "c/s.yaml", "insert_line": 1, "insert_text": "x: 1\ny: 2"}
    )
    assert not inserted.is_error
    assert path.read_bytes() == b"name: A\r\nx: 1\r\ny: 2\r\nclass: C\r\nid: '1'\r\nkey: k\r\n"


async def test_unicode_tabs_in_values_and_block_scalars(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    path = tmp_path / "c" / "s.yaml"
    original = (
        "name: Café ☕\nprompt: |\n  Héllo\n  wörld\t(tab in a value)\nfolded: >\n  one\n  two\n"
    )
    path.write_text(original, encoding="utf-8")
    tool = EditorTool(tmp_path)
    result = await tool.run(
        {"command": "str_replace", "path": "c/s.yaml", "old_str": "  wörld", "new_str": "  Welt"}
    )
    assert not result.is_error, result.text
    assert path.read_text(encoding="utf-8") == original.replace("  wörld", "  Welt")


async def test_tab_indentation_is_refused(tool: EditorTool, workspace: Path) -> None:
    before = data(workspace)
    result = await replace(tool, "  days: 90", "\tdays: 90")
    assert result.is_error and "tab" in result.text
    assert data(workspace) == before


async def test_a_file_already_broken_is_said_on_view_and_in_a_refusal(
    tool: EditorTool, workspace: Path
) -> None:
    """A person broke the YAML twice by hand: the model is told so when it views the
    file, and an edit that fixes one error but not the other names both."""
    path = workspace / GREETING
    valid = path.read_text()
    assert "not valid YAML" not in (await tool.run({"command": "view", "path": GREETING})).text
    broken = valid.replace("  days: 90", "  days: [90").replace("  limit: 100", "\tlimit: 100")
    path.write_text(broken)
    view = await tool.run({"command": "view", "path": GREETING})
    assert not view.is_error
    assert f"Note: {GREETING} is not valid YAML now (line 32, column" in view.text
    one_fix = await replace(tool, "  days: [90", "  days: 90")
    assert one_fix.is_error and path.read_text() == broken
    assert "the file is not valid YAML (line 32" in one_fix.text
    assert "would still not be after this edit (line 32, column 1: a tab" in one_fix.text
    both = await tool.run(
        {"command": "str_replace", "path": GREETING,
         "old_str": "  days: [90\n\tlimit: 100", "new_str": "  days: 90\n  limit: 100"}
    )  # fmt: skip
    assert not both.is_error, both.text
    assert path.read_text() == valid


async def test_warnings_are_appended(tool: EditorTool, workspace: Path) -> None:
    result = await tool.run(
        {
            "command": "str_replace",
            "path": GREETING,
            "old_str": "    class: Classifier",
            "new_str": "    class: Clasifier",
        }
    )
    assert not result.is_error
    assert (
        "Score check warnings:" in result.text and "unknown node class 'Clasifier'" in result.text
    )
    assert result.warnings


async def test_insert(tool: EditorTool, workspace: Path) -> None:
    top = await tool.run(
        {"command": "insert", "path": GREETING, "insert_line": 0, "insert_text": "# top comment"}
    )
    assert not top.is_error
    assert data(workspace).startswith(b"# top comment\n# Checks")
    end = await tool.run(
        {"command": "insert", "path": GREETING, "insert_line": 33, "new_str": "description: added"}
    )
    assert not end.is_error, end.text
    assert data(workspace).endswith(b"  limit: 100\ndescription: added\n")
    out = await tool.run(
        {"command": "insert", "path": GREETING, "insert_line": 99, "insert_text": "x: 1"}
    )
    assert out.is_error and "out of range" in out.text
    missing = await tool.run({"command": "insert", "path": GREETING, "insert_text": "x: 1"})
    assert missing.is_error and "insert_line" in missing.text
    no_text = await tool.run({"command": "insert", "path": GREETING, "insert_line": 1})
    assert no_text.is_error and "insert_text" in no_text.text


async def test_insert_into_file_without_final_newline(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "s.yaml").write_text("a: 1")
    result = await EditorTool(tmp_path).run(
        {"command": "insert", "path": "c/s.yaml", "insert_line": 1, "insert_text": "b: 2"}
    )
    assert not result.is_error
    assert (tmp_path / "c" / "s.yaml").read_text() == "a: 1\nb: 2\n"


async def test_create(tool: EditorTool, workspace: Path) -> None:
    result = await tool.run(
        {
            "command": "create",
            "path": "New Card/New Score.yaml",
            "file_text": "name: New\nclass: LangGraphScore\n",
        }
    )
    assert not result.is_error, result.text
    assert (
        workspace / "New Card" / "New Score.yaml"
    ).read_text() == "name: New\nclass: LangGraphScore\n"
    again = await tool.run(
        {"command": "create", "path": "New Card/New Score.yaml", "file_text": "name: X\n"}
    )
    assert again.is_error and "already exists" in again.text
    wrong = await tool.run({"command": "create", "path": "notes.txt", "file_text": "x"})
    assert wrong.is_error and ".yaml or .yml" in wrong.text
    bad = await tool.run({"command": "create", "path": "c/bad.yaml", "file_text": "a: [1"})
    assert bad.is_error and not (workspace / "c" / "bad.yaml").exists()
    escape = await tool.run({"command": "create", "path": "../x.yaml", "file_text": "a: 1"})
    assert escape.is_error and not (workspace.parent / "x.yaml").exists()


async def test_undo_multi_level_in_memory(tool: EditorTool, workspace: Path) -> None:
    original = data(workspace)
    await tool.run(
        {
            "command": "str_replace",
            "path": GREETING,
            "old_str": "limit: 100",
            "new_str": "limit: 200",
        }
    )
    second = data(workspace)
    await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "days: 90", "new_str": "days: 30"}
    )
    assert not (await tool.run({"command": "undo_edit", "path": GREETING})).is_error
    assert data(workspace) == second
    assert not (await tool.run({"command": "undo_edit", "path": GREETING})).is_error
    assert data(workspace) == original
    nothing = await tool.run({"command": "undo_edit", "path": GREETING})
    assert nothing.is_error and "no edit" in nothing.text


async def test_undo_persists_across_restart(workspace: Path, store: Store) -> None:
    original = data(workspace)
    await EditorTool(workspace, store).run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 5"}
    )
    fresh = EditorTool(workspace, store)  # a new tool, as after a restart
    result = await fresh.run({"command": "undo_edit", "path": GREETING})
    assert not result.is_error, result.text
    assert data(workspace) == original


async def test_undo_of_create_removes_the_file(tool: EditorTool, workspace: Path) -> None:
    await tool.run({"command": "create", "path": "c/n.yaml", "file_text": "name: N\n"})
    await tool.run({"command": "undo_edit", "path": "c/n.yaml"})
    assert not (workspace / "c" / "n.yaml").exists()


async def test_undo_refuses_when_file_changed_since(tool: EditorTool, workspace: Path) -> None:
    await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 5"}
    )
    (workspace / GREETING).write_bytes(data(workspace) + b"# edited elsewhere\n")
    changed = data(workspace)
    result = await tool.run({"command": "undo_edit", "path": GREETING})
    assert result.is_error and "changed since that edit" in result.text
    assert data(workspace) == changed


async def test_unknown_command_and_bad_input_never_raise(tool: EditorTool) -> None:
    for bad in [
        None,
        [],
        "view",
        {},
        {"command": "delete", "path": GREETING},
        {"command": "view", "path": 3},
        {"command": "str_replace", "path": GREETING, "old_str": 1, "new_str": "x"},
        {"command": "insert", "path": GREETING, "insert_line": "two", "insert_text": "a: 1"},
        {"command": "view", "path": "missing.yaml"},
        {"command": "view", "path": "../../etc/passwd"},
    ]:
        result = await tool.run(bad)
        assert result.is_error and result.text
    missing = await tool.run({"path": GREETING})
    assert missing.text.startswith("Missing required parameter `command`: use one of view,")
    unknown = await tool.run({"command": "delete", "path": GREETING})
    assert unknown.text.startswith("Unknown command 'delete': use one of view,")


async def test_approver_can_reject_with_reason(workspace: Path) -> None:
    seen: list[ProposedEdit] = []

    async def reject(proposal: ProposedEdit) -> str | None:
        seen.append(proposal)
        return "keep 100"

    before = data(workspace)
    tool = EditorTool(workspace, approver=reject)
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 7"}
    )
    assert result.is_error and "rejected this edit: keep 100" in result.text
    assert data(workspace) == before
    assert seen[0].path == GREETING and "limit: 7" in seen[0].after


async def test_corpus_edits_are_lossless(corpus: Path) -> None:
    tool = EditorTool(corpus)
    for path in sorted(corpus.rglob("*.yaml")):
        rel = path.relative_to(corpus).as_posix()
        original = path.read_bytes()
        text = original.decode()
        first_key = next(line for line in text.splitlines() if line.startswith("name:"))
        result = await tool.run(
            {
                "command": "str_replace",
                "path": rel,
                "old_str": first_key,
                "new_str": first_key + " (edited)",
            }
        )
        assert not result.is_error, (rel, result.text)
        assert path.read_bytes() == original.replace(
            first_key.encode(), (first_key + " (edited)").encode(), 1
        )
        await tool.run({"command": "undo_edit", "path": rel})
        assert path.read_bytes() == original


async def test_large_file_edit(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    content = big_score(1000)
    path = tmp_path / "c" / "big.yaml"
    path.write_text(content)
    assert content.count("\n") > 5000
    tool = EditorTool(tmp_path)
    result = await tool.run(
        {
            "command": "str_replace",
            "path": "c/big.yaml",
            "old_str": "Prompt number 4321.",
            "new_str": "Prompt 4321.",
        }
    )
    assert result.is_error  # no such node: only 1000
    result = await tool.run(
        {
            "command": "str_replace",
            "path": "c/big.yaml",
            "old_str": "Prompt number 999.",
            "new_str": "Last prompt.",
        }
    )
    assert not result.is_error
    assert path.read_text().count("Last prompt.") == 1


def test_replace_unique_reports_line_range() -> None:
    text, first, last = replace_unique("a: 1\nb: 2\nc: 3\n", "b: 2", "b: 2\nb2: 3")
    assert text == "a: 1\nb: 2\nb2: 3\nc: 3\n"
    assert (first, last) == (2, 3)


def test_samples_unchanged_by_tests() -> None:
    repo = Path(__file__).resolve().parents[2] / "data" / "scorecards"
    assert (repo / "Customer Service QA" / "Greeting.yaml").read_text().count("limit: 100") == 1


async def test_a_temp_file_left_by_a_killed_write_goes_with_the_next_write(
    tool: EditorTool, workspace: Path
) -> None:
    """kill -9 between the temp file's creation and its rename leaves it; the next write
    of the file (under the lock, when no other write can be under way) removes it, and
    nothing that is not such a temp file."""
    folder = (workspace / GREETING).parent
    stale = folder / ".Greeting.yaml.k3j9x2ab.tmp"
    stale.write_text("half a file")
    kept = [folder / ".Greeting.yaml.swp", folder / ".Empathy Shown.yaml.k3j9x2ab.tmp"]
    for path in kept:
        path.write_text("not ours to remove")
    result = await tool.run({"command": "str_replace", "path": GREETING,
                             "old_str": "limit: 100", "new_str": "limit: 7"})  # fmt: skip
    assert not result.is_error, result.text
    assert not stale.exists() and all(path.exists() for path in kept)
