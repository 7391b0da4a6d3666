"""Properties of the editor over generated YAML, driven by hypothesis."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.editor_tool import EditorTool
from engine.yaml_text import parse_yaml

keys = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
scalars = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,15}[A-Za-z0-9]", fullmatch=True),
)


@st.composite
def yaml_docs(draw: st.DrawFn) -> str:
    names = draw(st.lists(keys, min_size=2, max_size=8, unique=True))
    lines = []
    for name in names:
        if draw(st.booleans()):
            lines.append(f"{name}: {draw(scalars)}")
        else:
            lines.append(f"{name}:")
            for item in draw(st.lists(scalars, min_size=1, max_size=4)):
                lines.append(f"  - {item}")
        if draw(st.booleans()):
            lines.append(f"# note about {name}")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + newline


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _setup(text: str) -> tuple[Path, Path]:
    root = Path(tempfile.mkdtemp())
    (root / "c").mkdir()
    path = root / "c" / "s.yaml"
    path.write_bytes(text.encode())
    return root, path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=yaml_docs(), data=st.data())
def test_replace_a_unique_substring_then_undo_restores_bytes(doc: str, data: st.DataObject) -> None:
    root, path = _setup(doc)
    original = path.read_bytes()
    start = data.draw(st.integers(0, len(doc) - 1))
    end = data.draw(st.integers(start + 1, min(len(doc), start + 40)))
    old = doc[start:end]
    if doc.count(old) != 1 or "\r" in old[-1:] or old.startswith("\n"):
        return
    new = data.draw(scalars)
    tool = EditorTool(root)
    result = run(
        tool.run({"command": "str_replace", "path": "c/s.yaml", "old_str": old, "new_str": new})
    )
    if result.is_error:
        assert path.read_bytes() == original  # refused: untouched
        return
    parse_yaml(path.read_text())  # every applied edit leaves valid YAML
    undo = run(tool.run({"command": "undo_edit", "path": "c/s.yaml"}))
    assert not undo.is_error, undo.text
    assert path.read_bytes() == original


@settings(max_examples=40, deadline=None)
@given(
    doc=yaml_docs(), junk=st.sampled_from(["key: [open", ": : :", "\t- tab", "a: 'unclosed", "{x"])
)
def test_an_edit_that_breaks_yaml_leaves_the_file_identical(doc: str, junk: str) -> None:
    root, path = _setup(doc)
    original = path.read_bytes()
    first_line = doc.splitlines()[0]
    result = run(
        EditorTool(root).run(
            {"command": "str_replace", "path": "c/s.yaml", "old_str": first_line, "new_str": junk}
        )
    )
    if result.is_error:
        assert path.read_bytes() == original
    else:
        parse_yaml(path.read_text())


@settings(max_examples=25, deadline=None)
@given(
    doc=yaml_docs(),
    steps=st.lists(
        st.tuples(st.sampled_from(["replace", "insert", "undo"]), st.integers(0, 20), scalars),
        max_size=12,
    ),
)
def test_random_command_sequences_keep_invariants(
    doc: str, steps: list[tuple[str, int, str]]
) -> None:
    root, path = _setup(doc)
    tool = EditorTool(root)
    states = [path.read_bytes()]
    for kind, number, value in steps:
        lines = path.read_text().splitlines()
        if kind == "replace" and lines:
            line = lines[number % len(lines)]
            command = {
                "command": "str_replace",
                "path": "c/s.yaml",
                "old_str": line,
                "new_str": f"{line} {value}",
            }
        elif kind == "insert":
            command = {
                "command": "insert",
                "path": "c/s.yaml",
                "insert_line": number % (len(lines) + 1),
                "insert_text": f"# {value}",
            }
        else:
            command = {"command": "undo_edit", "path": "c/s.yaml"}
        result = run(tool.run(command))
        parse_yaml(path.read_bytes().decode())
        if kind == "undo":
            if not result.is_error:
                states.pop()
        elif not result.is_error:
            states.append(path.read_bytes())
        assert path.read_bytes() == states[-1]
    while len(states) > 1:
        assert not run(tool.run({"command": "undo_edit", "path": "c/s.yaml"})).is_error
        states.pop()
        assert path.read_bytes() == states[-1]
