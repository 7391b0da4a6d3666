import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import AmbiguousError, NotFoundError, SandboxError, UsageError, YamlError
from engine.score_checks import score_warnings
from engine.settings import load_settings, prepare_workspace
from engine.workspace import Workspace, atomic_write, fuzzy_score, read_text
from engine.yaml_text import check_text, dump_yaml, parse_yaml


def test_discovers_the_samples(workspace: Path) -> None:
    refs = Workspace(workspace).scores()
    assert len({r.scorecard for r in refs}) >= 3
    assert len(refs) >= 12
    greeting = next(r for r in refs if r.score == "Greeting")
    assert (
        greeting.key == "greeting" and greeting.id == "10401" and greeting.cls == "LangGraphScore"
    )
    assert greeting.rel_path == "Customer Service QA/Greeting.yaml"
    assert max(r.lines for r in refs) > 300


def test_every_sample_is_valid_yaml_without_warnings(workspace: Path) -> None:
    for ref in Workspace(workspace).scores():
        result = check_text(read_text(ref.path))
        assert result.ok, (ref.path, result.error)
        assert result.warnings == [], (ref.path, result.warnings)
        assert "{{text}}" in ref.path.read_text() or "{{" in ref.path.read_text()


def test_a_head_that_is_no_plain_name_leaves_the_file_stem(tmp_path: Path) -> None:
    card = tmp_path / "Card"
    card.mkdir()
    heads = {
        "Unclosed": "name: [unclosed\n",
        "Flow": "name: {a: 1}\n",
        "Quote": 'name: "open\n',
        "Block": "name: |\n  Folded\n",
        "Quoted": "name: 'Kept Name'\n",
        "Hash": 'name: "Call #1 Quality"  # a comment\n',
        "Escapes": "name: 'It''s \\\"fine\\\"'\n",
        "PlainHash": "name: Call#1 Check # a comment\n",
        "Slash": 'name: "Back\\\\slash\\tTab"\n',
        "EmptyQuotes": 'name: ""\n',
        "Plain": "name: Plain Name  # a comment\n",
    }
    for stem, text in heads.items():
        (card / f"{stem}.yaml").write_text(text)
    names = {ref.path.stem: ref.score for ref in Workspace(tmp_path).scores()}
    assert names == {
        "Unclosed": "Unclosed", "Flow": "Flow", "Quote": "Quote", "Block": "Block",
        "Quoted": "Kept Name", "EmptyQuotes": "EmptyQuotes", "Plain": "Plain Name",
        "Hash": "Call #1 Quality", "Escapes": 'It\'s \\"fine\\"', "PlainHash": "Call#1 Check",
        "Slash": "Back\\slash\tTab",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [("senti", "Sentiment Analysis"), ("Greeting", "Greeting"), ("greeting", "Greeting"),
     ("10402", "Sentiment Analysis"), ("refund-policy-disclosure", "Refund Policy Disclosure"),
     ("product claims", "Product Claims"), ("mini", "Mini-Miranda Disclosure")],
)  # fmt: skip
def test_resolve_score_by_name_key_id_or_fragment(
    workspace: Path, query: str, expected: str
) -> None:
    assert Workspace(workspace).resolve_score(query).score == expected


def test_ambiguous_and_unknown_names(workspace: Path) -> None:
    ws = Workspace(workspace)
    with pytest.raises(AmbiguousError, match="did you mean"):
        ws.resolve_score("disclosure")
    with pytest.raises(NotFoundError, match="No score matches 'zzzz'"):
        ws.resolve_score("zzzz")
    with pytest.raises(NotFoundError):
        ws.resolve_score("greeting", scorecard="Sales Compliance")
    assert (
        ws.resolve_score("disclosure", scorecard="collections").score == "Mini-Miranda Disclosure"
    )


def test_fuzzy_score_ranks_substring_over_scattered_letters() -> None:
    substring = fuzzy_score("senti", "Sentiment Analysis")
    scattered = fuzzy_score("senti", "Second Item Notice")
    assert substring is not None and scattered is not None and substring > scattered
    assert fuzzy_score("xyz", "Greeting") is None


@pytest.mark.parametrize(
    "raw",
    ["../outside.yaml", "Customer Service QA/../../x.yaml", "/etc/passwd", "a\x00b.yaml",
     "a\\b.yaml", "x" * 2000, ""],
)  # fmt: skip
def test_sandbox_refuses_escapes(workspace: Path, raw: str) -> None:
    with pytest.raises(SandboxError):
        Workspace(workspace).resolve_path(raw)


def test_sandbox_refuses_symlinks_that_leave(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("a: 1\n")
    (workspace / "link.yaml").symlink_to(outside)
    (workspace / "linkdir").symlink_to(tmp_path)
    ws = Workspace(workspace)
    with pytest.raises(SandboxError, match="outside the workspace"):
        ws.resolve_path("link.yaml")
    with pytest.raises(SandboxError):
        ws.resolve_path("linkdir/secret.yaml")


def test_sandbox_accepts_paths_inside(workspace: Path) -> None:
    ws = Workspace(workspace)
    inside = ws.resolve_path("Customer Service QA/Greeting.yaml")
    assert inside == workspace / "Customer Service QA" / "Greeting.yaml"
    assert ws.resolve_path(str(inside)) == inside


def test_round_trip_keeps_comments_order_and_block_scalars(workspace: Path) -> None:
    for ref in Workspace(workspace).scores():
        text = read_text(ref.path)
        assert dump_yaml(parse_yaml(text)) == text, ref.path


def test_parse_error_has_line_and_column() -> None:
    with pytest.raises(YamlError) as info:
        parse_yaml("name: x\nclass: [a, b\nkey: y\n")
    assert info.value.line is not None and info.value.line >= 2
    assert "line" in str(info.value)


def test_tabs_in_indentation_are_named() -> None:
    with pytest.raises(YamlError, match="tab") as info:
        parse_yaml("graph:\n\t- name: x\n")
    assert info.value.line == 2


def test_score_warnings() -> None:
    data = parse_yaml(
        "name: X\nclass: LangGraphScore\ngraph:\n"
        "  - name: a\n    class: Classifier\n"
        "    conditions:\n      - value: 'No'\n        node: missing_node\n      - value: 'Yes'\n        node: END\n"
        "  - name: a\n    class: Wizard\n"
        "  - class: Extractor\n"
    )
    warnings = score_warnings(data)
    joined = "\n".join(warnings)
    assert "without `valid_classes`" in joined
    assert "'missing_node', which does not exist" in joined
    assert "END" not in joined
    assert "reuses the node name 'a'" in joined
    assert "unknown node class 'Wizard'" in joined
    assert "graph[2] has no `name`" in joined
    assert score_warnings(parse_yaml("graph: []\n")) == [
        "The score has no `name`.",
        "The score has no `class`.",
    ]


def test_corpus_is_accepted(corpus: Path) -> None:
    files = sorted(corpus.rglob("*.yaml"))
    assert len(files) == 19
    for file in files:
        assert check_text(read_text(file)).ok, file


def test_read_text_refuses_binary_and_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\x02")
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(UsageError, match="binary"):
        read_text(tmp_path / "bin.yaml")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_text(tmp_path / "latin.yaml")
    with pytest.raises(NotFoundError):
        read_text(tmp_path / "missing.yaml")


def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "s.yaml"
    target.write_text("a: 1\n")
    os.chmod(target, 0o640)
    atomic_write(target, "a: 2\n")
    assert target.read_text() == "a: 2\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


def test_atomic_write_refuses_read_only(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write read-only files")
    target = tmp_path / "s.yaml"
    target.write_text("a: 1\n")
    os.chmod(target, 0o444)
    with pytest.raises(UsageError, match="read-only"):
        atomic_write(target, "a: 2\n")
    assert target.read_text() == "a: 1\n"


def test_atomic_write_names_what_stops_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=re.escape(f"the folder {tmp_path / 'gone'} does not")):
        atomic_write(tmp_path / "gone" / "s.yaml", "a: 1\n")
    # A folder that is there but takes no new file is not said to be missing.
    with pytest.raises(
        UsageError, match=re.escape("Cannot write s.yaml: /proc takes no new files")
    ):
        atomic_write(Path("/proc/s.yaml"), "a: 1\n")


def test_process_killed_before_rename_leaves_original(tmp_path: Path) -> None:
    target = tmp_path / "score.yaml"
    original = "name: Before\n" * 1000
    target.write_text(original)
    code = (
        "import os, sys\nfrom pathlib import Path\nfrom engine.workspace import atomic_write\n"
        "os.replace = lambda *a: os._exit(9)\n"
        f"atomic_write(Path({str(target)!r}), 'name: After\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2])
    assert done.returncode == 9
    assert target.read_text() == original


def test_settings_precedence_and_samples_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not load_settings().workspace.exists()  # loading settings writes nothing
    settings = prepare_workspace(load_settings())
    assert settings.workspace == (tmp_path / "home" / "data" / "scorecards").resolve()
    assert (settings.workspace / "Customer Service QA" / "Greeting.yaml").is_file()
    (settings.workspace / "Customer Service QA" / "Greeting.yaml").write_text("name: changed\n")
    again = prepare_workspace(load_settings())  # a second run never overwrites the copy
    assert (
        again.workspace / "Customer Service QA" / "Greeting.yaml"
    ).read_text() == "name: changed\n"
    (tmp_path / "scorecards").mkdir()
    assert load_settings().workspace == (tmp_path / "scorecards").resolve()
    monkeypatch.setenv("SCORECHAT_WORKSPACE", str(settings.workspace))
    assert load_settings().workspace == settings.workspace
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(workspace=tmp_path / "nope")
    with pytest.raises(UsageError, match="Unknown provider"):
        load_settings(provider="gpt")


def test_config_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        'provider = "anthropic"\nmodel = "claude-haiku-4-5"\nmax_tool_rounds = 3\n'
    )
    settings = load_settings()
    assert (settings.provider, settings.model, settings.max_tool_rounds) == (
        "anthropic",
        "claude-haiku-4-5",
        3,
    )
    assert load_settings(model="other").model == "other"
    (config / "config.toml").write_text("provider = [\n")
    with pytest.raises(UsageError, match="config file"):
        load_settings()


def _as_strings(node):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        return {str(k): _as_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_strings(v) for v in node]
    return None if node is None else str(node)


def test_fast_loader_matches_ruamel_on_samples_and_corpus(workspace: Path, corpus: Path) -> None:
    from engine.yaml_text import load_plain

    files = sorted(workspace.rglob("*.yaml")) + sorted(corpus.rglob("*.yaml"))
    for file in files:
        text = file.read_text()
        expected = _as_strings(parse_yaml(text))
        actual = load_plain(text)
        # Booleans and numbers stay as written; compare on the plain structure.
        assert _as_strings(actual) == _normalise_scalars(expected), file


def _normalise_scalars(node):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        return {k: _normalise_scalars(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_normalise_scalars(v) for v in node]
    return {"True": "true", "False": "false"}.get(node, node)


def test_fast_loader_errors_and_features() -> None:
    from engine.yaml_text import load_plain

    with pytest.raises(YamlError, match="duplicate key 'a'") as info:
        load_plain("a: 1\nb: 2\na: 3\n")
    assert info.value.line == 3
    with pytest.raises(YamlError, match="more than one YAML document"):
        load_plain("a: 1\n---\nb: 2\n")
    with pytest.raises(YamlError, match="line 2"):
        load_plain("a: [1\nb: 2\n")
    assert load_plain("base: &b {x: 1}\ncopy: *b\nempty:\nnull_word: null\nquoted: ''\n") == {
        "base": {"x": 1}, "copy": {"x": 1}, "empty": None, "null_word": None, "quoted": "",
    }  # fmt: skip
    # Plain integers are numbers, quoted ones text, as Plexus reads them.
    assert load_plain('a: 30\nb: "30"\nc: 3.5\nd: 0x1F\n') == {
        "a": 30,
        "b": "30",
        "c": "3.5",
        "d": "0x1F",
    }
    assert load_plain("") is None
