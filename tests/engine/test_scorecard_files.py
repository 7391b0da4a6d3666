"""Scorecard files: one YAML file listing its scores under ``scores:``, as Plexus keeps them."""

from __future__ import annotations

import json
from pathlib import Path

from engine.agent import ChatSession
from engine.providers.scripted import ScriptedProvider
from engine.settings import Settings, load_settings
from engine.store import Store
from engine.workspace import Workspace
from engine.yaml_text import check_text
from tests.cli.test_cli import cli
from tests.fakes.scripts import edit, text

SCORECARD = """\
name: Linear Dependency Scorecard
key: linear_dependency_scorecard
scores:
  - name: Score A
    key: score_a
    class: LangGraphScore
    graph:
      - name: classify
        class: Classifier
        valid_classes: ["High", "Low"]
  - name: Score B
    key: score_b
    class: LangGraphScore
    depends_on:
      - Score A
    graph:
      - name: classify
        class: YesOrNoClassifier
"""


def make(tmp_path: Path) -> Path:
    root = tmp_path / "cards"
    root.mkdir()
    (root / "linear.yaml").write_text(SCORECARD)
    return root


def test_each_listed_score_is_a_score(tmp_path: Path) -> None:
    ws = Workspace(make(tmp_path))
    refs = ws.scores()
    assert [(r.scorecard, r.score, r.entry, r.rel_path) for r in refs] == [
        ("Linear Dependency Scorecard", "Score A", "Score A", "linear.yaml"),
        ("Linear Dependency Scorecard", "Score B", "Score B", "linear.yaml"),
    ]
    assert ws.resolve_score("score_b").entry == "Score B"
    assert ws.ref_for(ws.root / "linear.yaml", "Score B").key == "score_b"


def test_checks_run_on_every_listed_score(tmp_path: Path) -> None:
    result = check_text(SCORECARD)
    assert result.ok
    assert result.warnings and all(w.startswith("scores[1] (Score B): ") for w in result.warnings)
    assert any("legacy class YesOrNoClassifier" in w for w in result.warnings)


async def test_a_listed_score_is_edited_in_place_with_its_own_sessions(tmp_path: Path) -> None:
    root = make(tmp_path)
    settings = load_settings(home=tmp_path / "home", workspace=root)
    ws = Workspace(root)
    store = await Store.open(settings.db_path)
    try:
        provider = ScriptedProvider(
            [[edit('valid_classes: ["High", "Low"]', 'valid_classes: ["High", "Medium", "Low"]',
                   path="linear.yaml")], [text("done")]]
        )  # fmt: skip
        chat = await ChatSession.start(
            store=store, workspace=ws, settings=settings, provider=provider,
            score=ws.resolve_score("Score A"),
        )  # fmt: skip
        events = [e async for e in chat.send("add Medium")]
        assert type(events[-1]).__name__ == "TurnDone"
        text_now = (root / "linear.yaml").read_text()
        assert '"Medium"' in text_now and "name: Score B" in text_now
        system = provider.calls[0]["system"]
        assert "about the entry named 'Score A'" in system
        assert [s.id for s in await store.list_sessions(path="linear.yaml", score="Score A")] == [
            chat.id
        ]
        assert await store.list_sessions(path="linear.yaml", score="Score B") == []
    finally:
        await store.close()


def test_cli_lists_and_checks_a_scorecard_file(tmp_path: Path, settings: Settings) -> None:
    root = make(tmp_path)
    listed = json.loads(cli("-w", str(root), "scores", "list", "--json").stdout)
    assert [row["entry"] for row in listed] == ["Score A", "Score B"]
    checked = cli("-w", str(root), "check", "score_b")
    assert checked.returncode == 0 and "legacy class" in checked.stdout
    doctor = cli("-w", str(root), "doctor")
    assert "(2 scores)" in doctor.stdout
