"""Pilot tests of the app with the scripted provider and temp dirs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from engine.settings import Settings
from engine.store import Store
from tests.tui.helpers import (
    GREETING,
    browse,
    edit,
    is_open,
    make_app,
    notice_lines,
    opened,
    press_for,
    ready,
    replies,
    sent,
    text,
    type_and_send,
    wait_for,
)
from tui.screens import chat as chat_module
from tui.screens.modals import ApprovalModal, HelpScreen
from tui.screens.picker import PickerScreen, filter_scores
from tui.screens.sessions import highlight
from tui.widgets.conversation import (
    Conversation,
    ToolCallRow,
)
from tui.widgets.diff_pane import DiffPane
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar


async def test_send_stream_diff_and_undo(settings: Settings, workspace: Path) -> None:
    original = (workspace / GREETING).read_bytes()
    app = make_app(
        settings,
        [[text("Raising the **limit**."), edit("limit: 100", "limit: 300")], [text("Done: 300.")]],
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "raise the limit")
        screen = app.chat_screen
        await wait_for(pilot, lambda: not screen._turn.is_running)
        assert replies(app) == ["Raising the **limit**.", "Done: 300."]
        assert sent(app) == ["raise the limit"]
        row = app.chat_screen.query_one(ToolCallRow)
        assert row.title == "✓ str_replace Greeting.yaml — edited"
        diff = app.chat_screen.query_one(DiffPane)
        assert (
            diff.state is not None
            and "+  limit: 300" in diff.state.diff
            and diff.state.key_paths == ["data.limit"]
        )
        assert app.chat_screen.query_one(PromptInput).text == ""
        await pilot.press("ctrl+r")  # the footer's "Undo edit", from the prompt
        await wait_for(pilot, lambda: (workspace / GREETING).read_bytes() == original)
        await wait_for(pilot, lambda: diff.state is not None and diff.state.diff == "")
        await wait_for(pilot, lambda: row.undone and row.title.startswith("↶ str_replace"))
        await pilot.press("ctrl+t")  # redo
        await wait_for(pilot, lambda: b"limit: 300" in (workspace / GREETING).read_bytes())
        await wait_for(pilot, lambda: not row.undone)


async def test_external_change_updates_the_diff(settings: Settings, workspace: Path) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.pause(0.5)  # let the watcher start
        path = workspace / GREETING
        path.write_text(path.read_text().replace("days: 90", "days: 45"))
        diff = app.chat_screen.query_one(DiffPane)
        await wait_for(
            pilot, lambda: diff.state is not None and "+  days: 45" in diff.state.diff, timeout=15
        )


def header_text(diff: DiffPane) -> str:
    """The diff pane's header as a person reads it."""
    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(diff.query_one("#diff-header", Static).content)
    return console.export_text()


async def test_the_diff_pane_says_while_the_file_is_not_valid_yaml(
    settings: Settings, workspace: Path
) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        diff = app.chat_screen.query_one(DiffPane)
        assert "Not valid YAML" not in header_text(diff)
        await pilot.pause(0.5)  # let the watcher start
        path = workspace / GREETING
        valid = path.read_text()
        path.write_text(valid.replace("  days: 90", "  days: [90"))
        await wait_for(pilot, lambda: "Not valid YAML: line 32, column" in header_text(diff), 15)
        assert "changed keys" not in header_text(diff)  # none can be named from a broken file
        await pilot.press("f6")  # the whole file: still said
        await wait_for(pilot, lambda: "lines" in header_text(diff))
        assert "✗ Not valid YAML: line 32" in header_text(diff)
        path.write_text(valid.replace("  days: 90", "  days: 45"))
        await wait_for(pilot, lambda: "Not valid YAML" not in header_text(diff), 15)


@pytest.mark.slow
async def test_a_huge_change_is_drawn_in_part_and_the_app_keeps_up(
    settings: Settings, workspace: Path
) -> None:
    """A 10,000-line score rewritten outside: the pane draws the first lines of the
    diff (and of the file, F6) and says how many it leaves out."""
    from tests.fakes.scripts import big_score
    from tui.widgets.diff_pane import MAX_DRAWN_LINES

    path = workspace / "Customer Service QA" / "Big.yaml"
    before = big_score(2_000)
    path.write_text(before)
    app = make_app(settings, [], score="big")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.pause(0.5)  # let the watcher start
        path.write_text(before.replace("    class: Classifier\n", "    class: YesNoClassifier\n"))
        diff = app.chat_screen.query_one(DiffPane)
        await wait_for(pilot, lambda: "+2000 -2000" in header_text(diff), 30)
        from textual.widgets import Static

        drawn = str(diff.query_one("#diff-body", Static).content).splitlines()
        assert "graph[0].class" in header_text(diff) and "… and 1,990 more" in header_text(diff)
        assert len(drawn) == MAX_DRAWN_LINES + 1  # and the note:
        assert drawn[-1].startswith("… ") and drawn[-1].endswith(
            "more lines of the diff are not drawn."
        )
        await pilot.press("f6")
        await wait_for(
            pilot, lambda: "10,003 lines; the first 2,000 are drawn" in header_text(diff)
        )
        await pilot.press(*"still typing")
        prompt = app.chat_screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.text == "still typing")


async def test_escape_cancels_and_keeps_partial_reply(settings: Settings, store: Store) -> None:
    words = " ".join(f"w{i}" for i in range(2000))
    app = make_app(settings, [[text(words)]], chunk_delay=0.005, store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "a long answer please")
        await wait_for(pilot, lambda: any(len(reply) > 50 for reply in replies(app)))
        await pilot.press("escape")
        screen = app.chat_screen
        await wait_for(pilot, lambda: not screen._turn.is_running)
        [partial] = replies(app)
        assert 50 < len(partial) < len(words)
        assert any("Stopped" in n for n in notice_lines(app))
        stored = (await store.messages(screen.chat.id))[-1]
        assert stored.status == "interrupted" and stored.text == partial


async def test_picker_finds_a_score_by_fragment(settings: Settings) -> None:
    app = make_app(settings, [], score=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"senti")
        await pilot.press("enter")
        await wait_for(pilot, lambda: is_open(app))
        assert app.chat_screen.chat.record.score == "Sentiment Analysis"


def test_filter_scores_ranks_fragments(settings: Settings) -> None:
    from engine.workspace import Workspace

    refs = Workspace(settings.workspace).scores()
    assert filter_scores(refs, "senti")[0].score == "Sentiment Analysis"
    assert filter_scores(refs, "sales claims")[0].score == "Product Claims"
    assert filter_scores(refs, "qqqq") == []
    assert len(filter_scores(refs, "")) == len(refs)


async def test_browser_finds_a_session_by_a_word_and_resumes_it(
    settings: Settings, store: Store
) -> None:
    from engine.workspace import Workspace

    ws = Workspace(settings.workspace)
    ref = ws.resolve_score("senti")
    old = await store.create_session(
        scorecard=ref.scorecard, score=ref.score, path=ref.rel_path, baseline="", title="Old chat"
    )
    await store.add_message(old.id, "user", "please add a Refund Promise class")
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        browser = await browse(pilot, "refund")
        await wait_for(
            pilot,
            lambda: (
                len(browser.rows) == 1 and getattr(browser.rows[0], "message_id", None) is not None
            ),
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_screen.opened_id == old.id)
        assert sent(app) == ["please add a Refund Promise class"]
        assert app.chat_screen.chat.record.score == "Sentiment Analysis"


def test_snippet_highlight() -> None:
    assert [s.style for s in highlight("a \x02word\x03 b").spans] == ["bold reverse"]
    assert highlight("a \x02word\x03 b").plain == "a word b"


async def test_approval_mode_ask_applies_and_rejects(settings: Settings, workspace: Path) -> None:
    settings = settings.with_overrides(approval="ask")
    app = make_app(settings, [
        [edit("limit: 100", "limit: 1")], [edit("days: 90", "days: 2")], [text("finished")],
    ])  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "two edits")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalModal))
        assert "limit: 1" in app.screen.proposal.after
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ApprovalModal) and "days: 2" in app.screen.proposal.after
            ),
        )
        app.screen.query_one("#reason").value = "keep 90 days"
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        content = (workspace / GREETING).read_text()
        assert "limit: 1\n" in content and "days: 90" in content
        rows = list(app.chat_screen.query(ToolCallRow))
        assert rows[1].title.startswith("✗") and "keep 90 days" in rows[1].body.render().plain


async def test_no_model_says_how_to_connect_and_the_rest_works(
    settings: Settings, workspace: Path
) -> None:
    app = make_app(settings, None)  # Ollama is down (port 9) and no key is set
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.provider_checked)
        await wait_for(
            pilot,
            lambda: any("No model is available" in n for n in notice_lines(app)),
        )
        assert app.chat_screen.query_one(StatusBar).connection == "no model"
        await type_and_send(pilot, "hello?")
        await wait_for(
            pilot,
            lambda: any("ollama pull" in n for n in notice_lines(app) if "✗" in n),
        )
        app.chat_screen.query_one(DiffPane).toggle()
        assert app.chat_screen.query_one(DiffPane).mode == "file"


async def long_session(settings: Settings, store: Store, pairs: int, words: int) -> Any:
    """A session on the Greeting score of ``pairs`` questions ("question N") and answers."""
    from engine.workspace import Workspace

    ref = Workspace(settings.workspace).resolve_score("greeting")
    session = await store.create_session(
        scorecard=ref.scorecard, score=ref.score, path=ref.rel_path, baseline="", title="Long"
    )
    for i in range(pairs):
        await store.add_message(session.id, "user", f"question {i}")
        await store.add_message(session.id, "assistant", f"answer {i} " + "word " * words)
    return session


async def test_long_session_mounts_recent_messages_and_loads_older(
    settings: Settings, store: Store
) -> None:
    session = await long_session(settings, store, 500, words=60)
    app = make_app(settings, [], store=store, session_id=session.id, score=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: is_open(app))
        conversation = app.chat_screen.query_one(Conversation)
        await wait_for(pilot, lambda: len(replies(app)) > 0)
        assert len(sent(app)) + len(replies(app)) == 20
        assert replies(app)[-1].startswith("answer 499")
        conversation.scroll_to(y=0, animate=False)
        await wait_for(
            pilot,
            lambda: len(sent(app)) + len(replies(app)) == 50,
        )
        first = sent(app)[0]
        assert first == "question 475"


async def test_prompt_history_walks_with_up_and_down(settings: Settings, store: Store) -> None:
    await store.add_prompt("first prompt")
    await store.add_prompt("second prompt")
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        prompt = app.chat_screen.query_one(PromptInput)
        await wait_for(pilot, lambda: len(prompt.prompt_history) == 2)
        prompt.focus()
        prompt.load_text("draft")
        await pilot.press("up")
        assert prompt.text == "second prompt"
        await pilot.press("up")
        assert prompt.text == "first prompt"
        await pilot.press("down", "down")
        assert prompt.text == "draft"
        await pilot.press("ctrl+j")
        assert prompt.text.count("\n") == 1


async def test_help_lists_every_key(settings: Settings) -> None:
    async with opened(settings) as (_, pilot):
        help_screen = await press_for(pilot, "f1", HelpScreen)
        rows = {name: key for key, name, _ in help_screen.rows}
        for action in (
            "Undo edit",
            "Undo all edits",
            "Save version",
            "Versions",
            "Model",
            "Export",
            "Open in $EDITOR",
            "Delete session",
            "Rename session",
            "Sessions",
            "Open score",
            "Stop",
        ):
            assert action in rows, action


async def test_save_version_and_rename(settings: Settings, store: Store) -> None:
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        await pilot.press(*"baseline")
        await pilot.press("enter")
        chat = app.chat_screen.chat
        for _ in range(100):
            if await store.list_versions(chat.record.path):
                break
            await pilot.pause(0.05)
        versions = await store.list_versions(chat.record.path)
        assert versions and versions[0].note == "baseline"
        await pilot.press("f2")
        await pilot.pause(0.2)
        input_ = app.screen.query_one("#answer")
        input_.value = "Renamed"
        await pilot.press("enter")
        for _ in range(100):
            if (await store.get_session(chat.id)).title == "Renamed":
                break
            await pilot.pause(0.05)
        assert (await store.get_session(chat.id)).title == "Renamed"


async def test_reopening_a_score_reuses_an_empty_session(settings: Settings, store: Store) -> None:
    for _ in range(2):
        app = make_app(settings, [], store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
    assert await store.count_sessions() == 1


async def test_narrow_terminal_collapses_side_panes(settings: Settings) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert (
            not app.chat_screen.query_one("#left").display
            and not app.chat_screen.query_one("#diff").display
        )
        await pilot.press("f10")
        assert app.chat_screen.query_one("#diff").display


async def test_browser_filters_by_scorecard_and_score(settings: Settings, store: Store) -> None:
    from engine.workspace import Workspace

    ws = Workspace(settings.workspace)
    for name in ("greeting", "senti", "product claims"):
        ref = ws.resolve_score(name)
        await store.create_session(
            scorecard=ref.scorecard,
            score=ref.score,
            path=ref.rel_path,
            baseline="",
            title=f"About {ref.score}",
        )
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        browser = await browse(pilot)
        await wait_for(
            pilot, lambda: len(browser.rows) == 3
        )  # the empty Greeting session is reused
        browser.query_one("#browser-card").value = "Customer Service QA"
        await wait_for(pilot, lambda: len(browser.rows) == 2)
        browser.query_one("#browser-score").value = "Sentiment Analysis"
        await wait_for(pilot, lambda: [r.score for r in browser.rows] == ["Sentiment Analysis"])


async def test_corrupt_database_is_one_notification(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 500)
    app = make_app(settings.with_overrides(db_path=bad), [])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: any("damaged" in n.message for n in app._notifications))
        assert app.is_running
    assert bad.read_bytes().startswith(b"not a database")


@pytest.mark.slow
async def test_paging_a_long_session_to_its_start_and_back_keeps_what_is_mounted_bounded(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PageUp from the prompt (as a person pages) reaches the first message; what is far
    below is released and comes back with PageDown; a message sent while far up shows
    below the latest messages."""
    # Small pages and a small bound: the same paths as 30 and 120, in fewer key presses.
    mounted = 16
    monkeypatch.setattr(Conversation, "MOUNTED_MESSAGES", mounted)
    monkeypatch.setattr(chat_module, "OLDER_PAGE", 6)
    session = await long_session(settings, store, 30, words=12)
    questions = mounted // 2 + 1  # half of what is mounted, and one at a page boundary
    app = make_app(
        settings, [[text("the newest reply")]], store=store, session_id=session.id, score=None
    )

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: is_open(app))
        await wait_for(pilot, lambda: "question 29" in sent(app))
        conversation = app.chat_screen.query_one(Conversation)
        for _ in range(400):
            if "question 0" in sent(app):
                break
            await pilot.press("pageup")
            await pilot.pause()
        assert "question 0" in sent(app)
        assert conversation.has_newer and "question 29" not in sent(app)
        assert len(sent(app)) <= questions
        for _ in range(400):
            if "question 29" in sent(app) and not conversation.has_newer:
                break
            await pilot.press("pagedown")
            await pilot.pause()
        assert "question 29" in sent(app) and "question 0" not in sent(app)
        assert len(sent(app)) <= questions
        # Far up again, then a message: it is answered below the latest messages.
        for _ in range(400):
            if conversation.has_newer:
                break
            await pilot.press("pageup")
            await pilot.pause()
        assert conversation.has_newer
        await type_and_send(pilot, "one more question")
        await wait_for(pilot, lambda: "the newest reply" in replies(app)[-1])
        users = sent(app)
        assert users[-1] == "one more question" and users[-2] == "question 29"
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        # What that turn drew is released too on the way up, and comes back from the record.
        for _ in range(400):
            if "question 0" in sent(app):
                break
            await pilot.press("pageup")
            await pilot.pause()
        assert "one more question" not in sent(app) and len(sent(app)) <= questions
        for _ in range(400):
            if not conversation.has_newer:
                break
            await pilot.press("pagedown")
            await pilot.pause()
        assert sent(app)[-1] == "one more question"
