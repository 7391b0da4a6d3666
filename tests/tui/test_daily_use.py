"""Daily use, driven as a person drives it: from the prompt, with the keys the app shows."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual import events

from engine.settings import Settings, load_settings
from engine.store import Store
from tests.conftest import SAMPLES
from tests.fakes.ollama_server import OllamaFake
from tests.tui import helpers
from tests.tui.helpers import (
    GREETING,
    HeldProvider,
    browse,
    edit,
    make_app,
    notice_lines,
    ready,
    replies,
    send_and_wait,
    sent,
    text,
    type_and_send,
    wait_for,
)
from tui.screens.chat import ChatScreen, key_name
from tui.screens.modals import ConfirmModal, DiscardModal, HelpScreen, RenderedOnce
from tui.screens.sessions import SessionsScreen
from tui.widgets import prompt as prompt_module
from tui.widgets.conversation import (
    AssistantMessage,
    Conversation,
    ToolCallRow,
)
from tui.widgets.prompt import PromptInput
from tui.widgets.session_list import SessionList


def _notices(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_deleting_in_the_browser_then_clicking_the_list_never_crashes(
    settings: Settings, store: Store
) -> None:
    app = make_app(settings, [[text("hi there")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "hello")
        first = app.chat_screen.chat.id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.chat_screen.opened_id not in (None, first))
        browser = await browse(pilot, "hello")
        await wait_for(pilot, lambda: len(browser.rows) == 1)
        await pilot.press("ctrl+d")  # works while the search box has focus
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await wait_for(pilot, lambda: len(browser.rows) == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        listed = app.chat_screen.query_one(SessionList)
        await wait_for(pilot, lambda: first not in [s.id for s in listed.sessions])
        # Another instance deletes the open session's sibling behind our back: the stale
        # entry says so in one sentence when clicked.
        other = await store.create_session(
            scorecard="Customer Service QA", score="Greeting", path=GREETING, baseline="",
            workspace=str(Workspace_root(settings)),
        )  # fmt: skip
        await store.add_message(other.id, "user", "from elsewhere")
        await app.chat_screen.refresh_sessions()
        await pilot.pause()
        await store.delete_session(other.id)
        row = next(i for i, s in enumerate(listed.sessions) if s.id == other.id)
        await pilot.click(listed, offset=listed.at_row(row).offset)
        await wait_for(pilot, lambda: any("no longer exists" in n for n in _notices(app)))
        assert app.is_running and isinstance(app.screen, ChatScreen)


def Workspace_root(settings: Settings) -> Path:
    from engine.workspace import Workspace

    return Workspace(settings.workspace).root


async def test_unexpected_worker_errors_are_one_sentence_and_logged(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.logs import setup_logging

    log_file = setup_logging(settings.log_dir)
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)

        async def broken() -> None:
            raise RuntimeError("a bug in a worker")

        app.chat_screen.run_worker(broken(), exit_on_error=False)
        await wait_for(pilot, lambda: any("RuntimeError" in n for n in _notices(app)))
        assert app.is_running
    assert log_file is not None and "a bug in a worker" in log_file.read_text()
    assert "Traceback" in log_file.read_text()


async def test_a_reply_that_cannot_be_drawn_is_kept_interrupted(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while drawing a reply ended the turn's loop but left the turn itself open:
    its reply stayed 'partial' in the record until the next start."""
    original = ChatScreen.render_event

    async def broken(self: ChatScreen, event: Any) -> None:
        if type(event).__name__ == "TextDelta":
            raise RuntimeError("a bug while drawing")
        await original(self, event)

    monkeypatch.setattr(ChatScreen, "render_event", broken)
    app = make_app(settings, [[text("never drawn")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: any("RuntimeError" in n for n in _notices(app)))
        session = app.chat_screen.chat.id
        replies = [m for m in await store.messages(session) if m.role == "assistant"]
        assert [m.status for m in replies] == ["interrupted"]
        assert "never drawn".startswith(replies[0].text.strip())
        assert app.is_running
        await send_and_wait(pilot, "and again")  # the next turn runs as usual


async def test_a_message_the_disk_cannot_hold_goes_back_into_the_prompt(
    settings: Settings, store: Store
) -> None:
    """On a full disk the message was never stored, the prompt was already cleared, and
    the app said "Something went wrong (OperationalError ...)": the text was lost."""
    from tests.reliability.test_integrity import fill_the_disk

    app = make_app(settings, [[text("never asked")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill_the_disk(store)
        message = "keep me " * 20_000
        await type_and_send(pilot, message)
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        prompt = app.chat_screen.query_one(PromptInput)
        assert prompt.text == message.strip()
        assert prompt.cursor_location == prompt.document.end  # typing goes on after it
        notes = notice_lines(app)
        assert any("database or disk is full" in n for n in notes), notes
        assert not any("Something went wrong" in n for n in _notices(app))
        assert not sent(app)  # nothing shown as sent


async def test_messages_name_the_keys_that_are_bound(settings: Settings) -> None:
    """Turning approval off said "undo with Ctrl+Z", a key the prompt keeps for undoing
    typing: messages now take each key from the bindings."""
    from tui.screens.chat import key_for

    assert (key_for("undo"), key_for("open_score"), key_for("switch_model")) == (
        "Ctrl+R", "Ctrl+O", "F4"
    )  # fmt: skip
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f12", "f12")  # ask first, then apply at once again
        await wait_for(pilot, lambda: any("apply at once" in n for n in _notices(app)))
        said = next(n for n in _notices(app) if "apply at once" in n)
        assert "undo with Ctrl+R" in said


def test_every_worker_reports_its_failure_instead_of_ending_the_app() -> None:
    """A worker's failure goes to the app's one handler (a sentence, the log); with
    Textual's default, ``exit_on_error=True``, it ends the app with a traceback (a hint
    refreshed while the app closed once did)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "tui"
    starting = []
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            textual_worker = (isinstance(func, ast.Name) and func.id == "work") or (
                isinstance(func, ast.Attribute) and func.attr == "run_worker"
            )  # a DOM node's; the CLI's `run_worker` starts Celery
            if textual_worker:
                starting.append((source.name, node.lineno, node.keywords))
    assert len(starting) > 10
    for where, line, keywords in starting:
        given = {k.arg: k.value for k in keywords}
        value = given.get("exit_on_error")
        assert isinstance(value, ast.Constant) and value.value is False, f"{where}:{line}"


ACTIONS_FROM_THE_PROMPT = [
    binding.action for binding in ChatScreen.BINDINGS if binding.action != "cancel_turn"
]


@pytest.mark.parametrize("action", ACTIONS_FROM_THE_PROMPT)
async def test_every_key_works_from_the_prompt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(ChatScreen, f"action_{action}", lambda self, *a: ran.append(action))
    key = next(b.key for b in ChatScreen.BINDINGS if b.action == action)
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert isinstance(app.focused, PromptInput)  # the focus the app gives
        await pilot.press(key.split(",")[0])
        await wait_for(pilot, lambda: ran == [action])


def _read(app: Any, text: str, at: float) -> None:
    """Deliver ``text`` to the app as one terminal read does: a key for each character
    (a line's end is Enter), all read at the moment ``at``."""
    for character in text:
        key = {" ": "space", "\r": "enter", "\n": "ctrl+j", "\t": "tab"}.get(character, character)
        event = events.Key(key, None if character in "\r\n\t" else character)
        event.time = at
        app.post_message(event)


async def test_a_paste_the_terminal_does_not_bracket_stays_one_message(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a paste comes as keys, each line's end an Enter, over several reads of the
    terminal: no Enter inside it sends, the person's own Enter sends it whole."""
    # The next read comes within BURST_WAIT; here that is the test's next step, which a
    # loaded machine may run late.
    monkeypatch.setattr(prompt_module, "BURST_WAIT", 1.0)
    app = make_app(settings, [[text("One reply.")], [text("Another.")]])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        prompt = app.chat_screen.query_one(PromptInput)
        now = time.monotonic()
        _read(app, "first line\r", now)  # the read ends on a line's end...
        await pilot.pause(0.02)
        _read(app, "second line\rthird", now + 0.02)  # ...and the next comes soon after
        await wait_for(pilot, lambda: prompt.text == "first line\nsecond line\nthird")
        await pilot.pause(0.2)
        assert prompt.text == "first line\nsecond line\nthird"
        assert not sent(app)
        # The person's Enter, read on its own, sends at once.
        _read(app, "\r", time.monotonic())
        await wait_for(pilot, lambda: len(sent(app)) == 1)
        assert sent(app) == ["first line\nsecond line\nthird"]
        # A tab inside a paste is kept as text; a Tab typed alone completes or moves on.
        _read(app, "col1\tcol2", time.monotonic() + 0.5)
        await wait_for(pilot, lambda: prompt.text == "col1\tcol2")
        await pilot.press("ctrl+u")
        # Lines ended CR LF (text from Windows) end once each, as a bracketed paste's do.
        _read(app, "row1\r\nrow2", time.monotonic() + 0.7)
        await wait_for(pilot, lambda: "row2" in prompt.text)
        assert prompt.text == "row1\nrow2"
        prompt.clear()
        # A paste that ends on Enter sends once the rest of its read has not come.
        _read(app, "pasted\r", time.monotonic() + 1)
        await wait_for(pilot, lambda: len(sent(app)) == 2)
        assert prompt.text == ""


async def test_editing_keys_keep_their_meaning_in_the_prompt(
    settings: Settings, workspace: Path
) -> None:
    before = (workspace / GREETING).read_bytes()
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        prompt = app.chat_screen.query_one(PromptInput)
        await pilot.press(*"abc")
        await pilot.press("ctrl+a")  # line start
        assert prompt.cursor_location == (0, 0)
        await pilot.press("ctrl+e", "ctrl+u")  # line end, delete to the start
        assert prompt.text == ""
        await pilot.press("ctrl+z")  # undo the deletion, not a file edit
        await wait_for(pilot, lambda: prompt.text == "abc")
        assert app.approval == "auto" and isinstance(app.screen, ChatScreen)
    assert (workspace / GREETING).read_bytes() == before


async def test_the_footer_lists_the_screen_keys_in_their_order_from_the_prompt(
    settings: Settings,
) -> None:
    """The first thing a person reads in the footer is the screen's first key, Ctrl+O,
    not F6 held at the head by the prompt's own (TextArea's select-line) binding. The
    footer shows the screen's active bindings in their order."""
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        shown = [b.key for b in ChatScreen.BINDINGS if b.show]
        active = app.screen.active_bindings.values()
        footer = [bound.binding.key for bound in active if bound.binding.show]
        assert [key for key in footer if key in shown] == shown
        assert footer[0] == "ctrl+o"


async def test_help_lists_every_binding_and_the_slash_commands(settings: Settings) -> None:
    async with helpers.opened(settings, size=(80, 24)) as (_, pilot):
        help_screen = await helpers.press_for(pilot, "f1", HelpScreen)
        shown = " ".join(str(row) for row in help_screen.rows)
        for binding in ChatScreen.BINDINGS:
            assert binding.tooltip, f"{binding.key} has no explanation for the help"
            assert binding.description in shown and binding.tooltip in shown
        for name in ChatScreen.SLASH:
            assert name in shown
        # A key's row names the slash commands that do the same; one without a key has a
        # row of its own; keys are named as the messages name them.
        rows = {key: (name, what) for key, name, what in help_screen.rows}
        assert rows["Ctrl+N"] == ("New", "Start a new session on this score (/new, /clear)")
        assert rows["Ctrl+S"][1].endswith("(/save NOTE)")  # how the command takes its text
        assert rows["/retry"][1].startswith("Send your last message again")
        assert rows["/copy [code]"][1].startswith("Copy the last reply")  # not markup
        assert "/undo" not in rows and "Esc" in rows and "F12" in rows


async def test_export_from_f5_writes_the_file_or_says_why_not(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, [[text("The limit is 100.")]])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "what is the limit?")

        async def export(target: Path) -> str:
            from tui.screens.modals import ChoiceModal, TextModal

            await helpers.press_for(pilot, "f5", ChoiceModal)
            await pilot.press("enter")  # Markdown, the first choice
            await wait_for(pilot, lambda: isinstance(app.screen, TextModal))
            await pilot.press("ctrl+u", *str(target), "enter")
            await wait_for(pilot, lambda: any("xport" in n for n in _notices(app)[-1:]))
            return _notices(app)[-1]

        wanted = tmp_path / "out.md"
        assert await export(wanted) == f"Exported to {wanted}."
        assert "The limit is 100." in wanted.read_text()
        missing = await export(tmp_path / "gone" / "out.md")
        assert missing == (
            f"Nothing was exported. Cannot write out.md: the folder {tmp_path / 'gone'} "
            "does not exist."
        )
        refused = await export(Path("/proc/out.md"))
        assert refused == "Nothing was exported. Cannot write out.md: /proc takes no new files."
        assert app.is_running


async def test_tab_on_many_commands_lists_their_names(settings: Settings) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("/", "tab")
        listed = _notices(app)[-1]
        assert "/undo  /redo" in listed and "/help says what each does" in listed
        assert "Ctrl+R" not in listed  # eighteen descriptions would not fit the screen


async def test_help_shows_brackets_in_a_path_as_they_are(tmp_path: Path) -> None:
    workspace = tmp_path / "[/x] [bold]work"
    shutil.copytree(SAMPLES, workspace)
    app = make_app(load_settings(workspace=workspace), [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        help_screen = await helpers.press_for(pilot, "f1", HelpScreen)
        await pilot.pause()
        assert app.is_running and app.screen is help_screen  # drawn, not a markup error
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(help_screen.query_one(RenderedOnce).renderable)
        assert str(workspace) in console.export_text()


async def test_slash_commands_and_completion(settings: Settings, workspace: Path) -> None:
    app = make_app(
        settings,
        [[edit("limit: 100", "limit: 5")], [text("done")], [text("About that path.")]],
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "lower the limit")
        prompt = app.chat_screen.query_one(PromptInput)
        await pilot.press(*"/und")
        await pilot.press("tab")
        assert prompt.text == "/undo"  # the common prefix of /undo and /undo-all
        # Tab lists what each does, in the words and with the key the help gives.
        listed = _notices(app)[-1].splitlines()
        assert listed == [
            "/undo  Undo this session's last edit of the file · Ctrl+R",
            "/undo-all  Undo every edit of this session · Ctrl+G",
        ]
        await pilot.press("-", "tab")  # one match: completed, and how it is used is said
        assert prompt.text == "/undo-all "
        assert _notices(app)[-1] == "/undo-all  Undo every edit of this session · Ctrl+G"
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await pilot.press("enter")
        await wait_for(pilot, lambda: b"limit: 100" in (workspace / GREETING).read_bytes())
        await type_and_send(pilot, "/redo")
        await wait_for(pilot, lambda: b"limit: 5" in (workspace / GREETING).read_bytes())
        await type_and_send(pilot, "/save before the review")
        await wait_for(pilot, lambda: any("Saved version" in n for n in _notices(app)))
        versions = await app.store.list_versions(GREETING)
        assert versions[0].note == "before the review"
        # A first word that is no command is said, and nothing typed is lost: the text
        # stays, and Enter again sends it as a message.
        await pilot.press(*"/etc/hosts", "ctrl+j", *"lists the hosts", "enter")
        said = "Unknown command /etc/hosts. /help lists the commands; Enter again sends"
        await wait_for(pilot, lambda: any(n.startswith(said) for n in _notices(app)))
        assert prompt.text == "/etc/hosts\nlists the hosts"
        assert len(sent(app)) == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(sent(app)) == 2)
        await wait_for(pilot, lambda: "About that path." in replies(app))
        assert prompt.text == ""
        await type_and_send(pilot, "/udno")  # a typo: the command it was meant to be
        await wait_for(pilot, lambda: any("Did you mean /undo?" in n for n in _notices(app)))


@pytest.mark.parametrize("command", ["/quit", "/exit"])
async def test_quit_and_exit_commands_quit(settings: Settings, command: str) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, command)
        await wait_for(pilot, lambda: not app.is_running)


async def test_text_after_a_command_that_takes_none_is_kept(settings: Settings) -> None:
    """``/quit`` with a pasted paragraph behind it (its Enter became a new line) quit and
    dropped the paragraph. A command that takes nothing after it now runs nothing when
    something follows; the text stays, and Enter again sends it as a message."""
    app = make_app(settings, [[text("About that paragraph.")]])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        prompt = app.chat_screen.query_one(PromptInput)
        await pilot.press(*"/quit", "ctrl+j", *"a pasted paragraph", "enter")
        said = "/quit takes nothing after it, so nothing ran and the text stays."
        await wait_for(pilot, lambda: any(n.startswith(said) for n in _notices(app)))
        assert app.is_running and prompt.text == "/quit\na pasted paragraph"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(replies(app)) == 1)
        assert app.is_running and prompt.text == ""
        # The commands that take text still take it.
        await type_and_send(pilot, "/rename the paragraph chat")
        await wait_for(pilot, lambda: app.chat_screen.chat.record.title == "the paragraph chat")


async def test_each_slash_command_runs_its_action_from_the_prompt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen_actions = {
        name: action for name, action in ChatScreen.SLASH.items()
        if hasattr(ChatScreen, f"action_{action}")
    }  # fmt: skip
    assert len(screen_actions) >= 12
    ran: list[str] = []
    for action in set(screen_actions.values()):
        monkeypatch.setattr(
            ChatScreen, f"action_{action}", lambda self, *a, _name=action, **k: ran.append(_name)
        )
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for count, (name, action) in enumerate(screen_actions.items(), 1):
            await type_and_send(pilot, name)
            await wait_for(pilot, lambda n=count: len(ran) == n)
            assert ran[-1] == action, name


async def test_undo_of_a_changed_file_shows_what_it_would_discard(
    settings: Settings, workspace: Path
) -> None:
    app = make_app(settings, [[edit("limit: 100", "limit: 5")], [text("done")]])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "lower the limit")
        path = workspace / GREETING
        path.write_text(path.read_text().replace("days: 90", "days: 7"))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscardModal))
        lines = app.screen.diff.splitlines()
        assert "-  days: 7" in lines and "+  days: 90" in lines and "-  limit: 5" in lines
        await pilot.press("n")
        await wait_for(pilot, lambda: any("Cancelled" in n for n in _notices(app)))
        assert "days: 7" in path.read_text() and "limit: 5" in path.read_text()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscardModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: "limit: 100" in path.read_text())
        row = app.chat_screen.query_one(ToolCallRow)
        await wait_for(pilot, lambda: row.undone)


async def test_a_message_sent_during_a_reply_is_queued_then_sent(settings: Settings) -> None:
    provider = HeldProvider([[text("first reply")], [text("second reply")]])
    app = make_app(settings, provider=provider)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "one")
        await wait_for(pilot, lambda: app.chat_screen._turn.is_running)
        await type_and_send(pilot, "two")
        await wait_for(pilot, lambda: any("Queued" in n for n in notice_lines(app)))
        stored = await app.store.messages(app.chat_screen.chat.id)
        assert [m.text for m in stored if m.role == "user"] == ["one"]  # "two" waits
        provider.release.set()
        await wait_for(
            pilot,
            lambda: len(sent(app)) == 2 and not app.chat_screen._turn.is_running,
            timeout=20,
        )
        users = [m for m in await app.store.messages(app.chat_screen.chat.id) if m.role == "user"]
        assert [m.text for m in users] == ["one", "two"]


async def test_a_failed_turn_marks_only_its_own_reply(settings: Settings) -> None:
    app = make_app(
        settings,
        [[text("The first answer.")], [text("Half of"), {"type": "error", "message": "boom"}]],
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "one")
        await type_and_send(pilot, "two")
        await wait_for(pilot, lambda: len(replies(app)) == 2)
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        first, second = app.chat_screen.query(AssistantMessage)
        assert str(first.border_title) == "Assistant"
        assert str(second.border_title) == "Assistant · error"


async def stored_draft(pilot: Any, store: Store, session_id: str, expected: str) -> None:
    """Wait until the store holds ``expected`` as the session's draft."""
    for _ in range(200):
        if await store.draft(session_id) == expected:
            return
        await pilot.pause(0.05)
    assert await store.draft(session_id) == expected


async def test_text_typed_and_not_sent_comes_back_after_a_quit(
    settings: Settings, store: Store
) -> None:
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        session = app.chat_screen.chat.id
        await pilot.press(*"lower the", "ctrl+j", *"limit")
        # Kept a moment after the last key, so a crash loses at most that moment...
        await stored_draft(pilot, store, session, "lower the\nlimit")
        await pilot.press(*" to 5")
        await pilot.press("ctrl+q")  # ...and at once on quitting.
    assert await store.draft(session) == "lower the\nlimit to 5"
    again = make_app(settings, [[text("Done.")]], store=store, session_id=session, score=None)
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert again.chat_screen.query_one(PromptInput).text == "lower the\nlimit to 5"
        assert "Your unsent message is back in the prompt." in _notices(again)
        await pilot.press("enter")  # sent: no longer a draft
        await wait_for(pilot, lambda: not again.chat_screen._turn.is_running)
        await stored_draft(pilot, store, session, "")
    users = [m.text for m in await store.messages(session) if m.role == "user"]
    assert users == ["lower the\nlimit to 5"]


async def test_each_session_keeps_its_own_unsent_text(settings: Settings, store: Store) -> None:
    app = make_app(settings, [[text("hi")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "hello")
        first = app.chat_screen.chat.id
        prompt = app.chat_screen.query_one(PromptInput)
        await pilot.press(*"start over")
        # A new session has nothing of its own: the text comes along to it.
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.chat_screen.opened_id not in (None, first))
        second = app.chat_screen.chat.id
        assert prompt.text == "start over"
        await pilot.press(*" please")
        await stored_draft(pilot, store, second, "start over please")
        assert await store.draft(first) == ""
        # Back in the first session: its own (empty) prompt; what is typed there stays there.
        browser = await browse(pilot, "hello")
        await wait_for(pilot, lambda: len(browser.rows) == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_screen.opened_id == first)
        await wait_for(pilot, lambda: prompt.text == "")
        await pilot.press(*"one more thing")
        await pilot.press("ctrl+n")  # the latest session is the empty second one: reused
        await wait_for(pilot, lambda: app.chat_screen.opened_id == second)
        await wait_for(pilot, lambda: prompt.text == "start over please")
        await stored_draft(pilot, store, first, "one more thing")
        assert await store.draft(second) == "start over please"


async def test_a_draft_that_cannot_be_kept_never_stops_the_app(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def broken(session_id: str, text: str) -> None:
        calls.append(text)
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(store, "save_draft", broken)
    app = make_app(settings, [[text("Done.")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press(*"keep me")
        await wait_for(pilot, lambda: "keep me" in calls, 5)
        await send_and_wait(pilot, "and a message")  # the app goes on as before
        assert any(m.text == "and a message" for m in await store.messages(app.chat_screen.chat.id))


async def test_messages_queued_behind_a_reply_are_kept_at_quit(
    settings: Settings, store: Store
) -> None:
    app = make_app(settings, provider=HeldProvider([[text("first reply")]]), store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        session = app.chat_screen.chat.id
        await type_and_send(pilot, "one")
        await wait_for(pilot, lambda: app.chat_screen._turn.is_running)
        await type_and_send(pilot, "two")
        await wait_for(pilot, lambda: app.chat_screen._queued == ["two"])
        await pilot.press(*"three")
        await pilot.press("ctrl+q")
    assert await store.draft(session) == "two\n\nthree"
    users = [m.text for m in await store.messages(session) if m.role == "user"]
    assert users == ["one"]


async def test_page_keys_scroll_the_conversation_from_the_prompt(settings: Settings) -> None:
    app = make_app(settings, [[text("\n\n".join(f"paragraph {i}" for i in range(80)))]])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "long please")
        conversation = app.chat_screen.query_one(Conversation)
        # The finished reply is laid out in steps (a few milliseconds of blocks a frame):
        # on a loaded machine it still grows after the turn, and the view, anchored to
        # the end, grows with it. So the key must take the view off the end, and keep it
        # off while the reply grows; a position read before the key is no measure.
        await wait_for(pilot, lambda: conversation.max_scroll_y > 0)
        conversation.scroll_end(animate=False)
        await wait_for(pilot, lambda: conversation.scroll_y == conversation.max_scroll_y)
        await pilot.press("pageup")
        await wait_for(pilot, lambda: conversation.scroll_y < conversation.max_scroll_y)
        await pilot.pause(0.3)
        assert conversation.scroll_y < conversation.max_scroll_y
        assert isinstance(app.focused, PromptInput)


def unused_port_below_the_ephemeral_range() -> int:
    """A free port that no other test's server (they bind port 0, so the kernel picks from
    32768 up) can take between this test's look and its own server starting."""
    import random
    import socket

    for port in random.sample(range(20_000, 32_000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below 32000")


async def test_a_model_that_appears_later_is_found(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = unused_port_below_the_ephemeral_range()
    settings = settings.with_overrides(ollama_host=f"http://127.0.0.1:{port}")
    from tui import app as app_module

    # Probes every 0.2 s: the backoff's later waits (up to 30 s) could outlast the wait
    # below on a loaded machine.
    monkeypatch.setattr(app_module, "PROBE_FIRST_DELAY", 0.2)
    monkeypatch.setattr(app_module, "PROBE_MAX_DELAY", 0.2)
    app = make_app(settings, None)
    app.provider_checked = False
    app._choose = True
    said: list[str] = []  # what was notified (a shown notification may expire before a look)
    notify = app.notify
    monkeypatch.setattr(
        app, "notify", lambda message, **kw: (said.append(message), notify(message, **kw))[1]
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.provider_checked and app.provider is None)

        def hint() -> str:
            return " ".join(notice_lines(app))

        await wait_for(pilot, lambda: "F4" in hint() and "/model" in hint())
        with OllamaFake(port=port):
            await wait_for(pilot, lambda: app.provider is not None, timeout=20)
            await wait_for(pilot, lambda: any("Connected" in m for m in said))


async def test_resuming_a_search_hit_opens_on_that_message(
    settings: Settings, store: Store
) -> None:
    from engine.workspace import Workspace

    ref = Workspace(settings.workspace).resolve_score("greeting")
    old = await store.create_session(
        scorecard=ref.scorecard, score=ref.score, path=ref.rel_path, baseline="",
        workspace=str(Workspace(settings.workspace).root),
    )  # fmt: skip
    for n in range(40):
        await store.add_message(old.id, "user", "the needle is here" if n == 3 else f"filler {n}")
    app = make_app(settings, [], store=store, score="senti")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        browser = await browse(pilot, "needle")
        await wait_for(pilot, lambda: len(browser.rows) == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_screen.opened_id == old.id)
        found = list(app.chat_screen.query(".-found"))
        assert len(found) == 1 and "needle" in found[0].render().plain


async def test_a_failed_send_keeps_its_error_after_resume(settings: Settings, store: Store) -> None:
    app = make_app(settings, None, store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.opened_id is not None)
        await send_and_wait(pilot, "is anyone there")
        chat_id = app.chat_screen.chat.id
    again = make_app(settings, [], store=store, session_id=chat_id, score=None)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: again.chat_screen.opened_id == chat_id)
        shown = " ".join(notice_lines(again))
        assert "No model is available" in shown


async def test_copy_and_retry(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    app = make_app(settings, [[text("Here:\n\n```yaml\nlimit: 5\n```\n")], [text("again")]])
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "show me")
        await type_and_send(pilot, "/copy code")
        await wait_for(pilot, lambda: copied == ["limit: 5\n"])
        await type_and_send(pilot, "/retry")
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running and len(sent(app)) == 2)
        users = [
            m.text for m in await app.store.messages(app.chat_screen.chat.id) if m.role == "user"
        ]
        assert users == ["show me", "show me"]


async def test_twin_scores_are_told_apart_in_the_picker(settings: Settings) -> None:
    from tui.screens.picker import PickerScreen

    card = Path(settings.workspace) / "Twins"
    card.mkdir()
    for stem in ("One", "Two"):
        (card / f"{stem}.yaml").write_text("name: Test Score\nclass: LangGraphScore\n")
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"test score")
        await pilot.pause(0.2)
        labels = [str(o.prompt) for o in app.screen.query_one("#picker-list").options]
        assert any("(One.yaml)" in label for label in labels)
        assert any("(Two.yaml)" in label for label in labels)


async def test_the_same_notification_is_not_stacked_twice(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui import app as app_module

    monkeypatch.setattr(app_module, "REPEAT_WINDOW", 5.0)  # a loaded machine is slow
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        said = "This session has no edits to undo."
        await pilot.press("ctrl+r", "ctrl+r", "ctrl+r")
        await wait_for(pilot, lambda: said in _notices(app))
        await pilot.pause(0.2)
        assert _notices(app).count(said) == 1
        await pilot.press("ctrl+g")  # another path to the same sentence: still once
        await pilot.pause(0.2)
        assert _notices(app).count(said) == 1
        monkeypatch.setattr(app_module, "REPEAT_WINDOW", 0.0)  # the window has passed:
        await pilot.press("ctrl+r")  # said again
        await wait_for(pilot, lambda: _notices(app).count(said) == 2)


async def test_cancelled_dialogs_say_so(settings: Settings) -> None:
    async with helpers.opened(settings) as (app, pilot):
        dialog = await helpers.press_for(pilot, "f8", ConfirmModal)
        question = dialog.query_one(".dialog-question")
        assert question.size.height >= 2  # the whole question wraps; nothing is cut
        await pilot.press("escape")
        await wait_for(pilot, lambda: any(n == "Cancelled." for n in _notices(app)))


async def test_first_run_says_where_the_samples_are(tmp_path: Path) -> None:
    from engine.settings import load_settings, prepare_workspace

    loaded = load_settings(home=tmp_path / "fresh-home", cwd=tmp_path)
    assert not loaded.workspace.exists()  # loading settings copies nothing
    settings = prepare_workspace(loaded)
    assert settings.samples_copied
    app = make_app(settings, [], score=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: any("First run" in n for n in _notices(app)))
        assert any(str(settings.workspace) in n for n in _notices(app))
    again = prepare_workspace(load_settings(home=tmp_path / "fresh-home", cwd=tmp_path))
    assert not again.samples_copied


async def test_the_palette_has_every_binding(settings: Settings) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        for binding in ChatScreen.BINDINGS:
            # Each says what it does and its key, in the words the help uses.
            assert commands[binding.description] == f"{binding.tooltip} · {key_name(binding.key)}"
        assert commands["Undo edit"] == "Undo this session's last edit of the file · Ctrl+R"


async def test_status_bar_shows_how_full_the_context_is(settings: Settings) -> None:
    from tui.widgets.status_bar import StatusBar

    app = make_app(settings, [])
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot)
        bar = app.chat_screen.query_one(StatusBar)
        assert "context" not in bar.render().plain
        bar.context = 0.95
        bar.cached = 12_000
        await pilot.pause()
        assert "context 95%" in bar.render().plain and "(12,000 cached)" in bar.render().plain


async def test_browser_filters_work_with_the_arrow_keys(settings: Settings, store: Store) -> None:
    from textual.widgets import Select

    app = make_app(settings, [[text("hi")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "hello")
        browser = await browse(pilot)
        await wait_for(pilot, lambda: len(browser.rows) >= 1)
        await pilot.press("tab")  # from the search box to the scorecard filter
        card = browser.query_one("#browser-card", Select)
        assert app.focused is card
        await pilot.press("enter", "down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(card.value, str))
        assert card.value == "Customer Service QA"  # the second scorecard, alphabetically
        await wait_for(pilot, lambda: len(browser.rows) == 1)


async def test_thinking_shows_collapsed_with_its_length(settings: Settings) -> None:
    from tui.widgets.conversation import ThinkingRow

    app = make_app(settings, [[{"type": "thinking", "text": "First I check the limit."},
                               text("The limit is 100.")]])  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "what is the limit?")
        row = app.chat_screen.query_one(ThinkingRow)
        assert row.collapsed and row.title == "💭 Thinking · 24 characters"
        row.collapsed = False
        await pilot.pause()
        assert "First I check the limit." in row.body.render().plain
        assert replies(app) == ["The limit is 100."]


async def test_model_picker_shows_context_tools_and_thinking(settings: Settings) -> None:
    from tui.screens.modals import ChoiceModal

    with OllamaFake() as server:
        app = make_app(settings.with_overrides(ollama_host=server.url), [])
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            await pilot.press("f4")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal))
            labels = [str(o.prompt) for o in app.screen.query_one("OptionList").options]
            assert any("qwen3:8b (40k context, tools, thinking)" in label for label in labels)
            assert any(
                "llama3.2:1b (40k context, no tools: text edits)" in label for label in labels
            )


async def test_model_picker_opens_on_the_model_in_use(settings: Settings) -> None:
    """The picker marks the model in use and starts on it, so Enter keeps it."""
    from engine.providers import make_provider
    from tui.screens.modals import ChoiceModal

    with OllamaFake() as server:
        served = settings.with_overrides(ollama_host=server.url)
        app = make_app(served, provider=make_provider(served, "ollama", "llama3.2:1b"))
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            await pilot.press("f4")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal))
            options = app.screen.query_one("OptionList")
            labels = [str(o.prompt) for o in options.options]
            assert [label.endswith("● in use") for label in labels] == [
                "llama3.2:1b" in label for label in labels
            ]
            assert "llama3.2:1b" in labels[options.highlighted]
            assert not labels[0].endswith("● in use")  # not simply the first
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, ChoiceModal))
            assert app.provider.model == "llama3.2:1b"


async def test_a_service_chat_is_found_in_the_browser_and_resumes(
    settings: Settings, ollama_server: Any
) -> None:
    from engine.service import end_session, handle_message

    served = settings.with_overrides(provider="ollama", ollama_host=ollama_server.url)
    result = await handle_message(served, {
        "chat_id": "chat-from-the-service", "message": "served by a worker",
        "scorecard": "customer", "score": "greeting",
    })  # fmt: skip
    assert "error" not in result
    await end_session(served, "chat-from-the-service")
    app = make_app(settings, [], score="senti")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        browser = await browse(pilot, "served")
        await wait_for(pilot, lambda: len(browser.rows) >= 1)
        assert {row.session_id for row in browser.rows} == {"chat-from-the-service"}
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_screen.opened_id == "chat-from-the-service")
        assert sent(app) == ["served by a worker"]


async def test_the_sessions_pane_holds_every_session_of_a_long_used_score(
    settings: Settings, store: Store
) -> None:
    """300 sessions (more than the pane used to hold): reached from the prompt with
    Shift+Tab, walked with the keys, the last one resumed with Enter."""
    app = make_app(settings, [], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        chat = app.chat_screen.chat
        oldest = None
        for i in range(300):
            made = await store.create_session(
                scorecard=chat.record.scorecard, score=chat.record.score, path=chat.record.path,
                baseline="", workspace=str(chat.workspace.root),
            )  # fmt: skip
            await store.add_message(made.id, "user", f"question {i}")
            await store.rename_session(made.id, f"Question number {i}")
            oldest = oldest or made
        await app.chat_screen.refresh_sessions()
        listed = app.chat_screen.query_one(SessionList)
        assert len(listed.sessions) == 301
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused is listed
        await pilot.press("home", "down", "down")
        assert listed.index == 2
        await pilot.press("end")
        assert listed.sessions[listed.index].id == listed.sessions[-1].id
        # The last row is on screen, where a click would land on it.
        assert 0 <= listed.at_row(listed.index).y < listed.size.height
        await pilot.press("up")
        target = listed.sessions[listed.index]
        assert target.title == "Question number 0" and oldest is not None
        assert target.id == oldest.id
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_screen.opened_id == oldest.id)
        await wait_for(
            pilot,
            lambda: any("question 0" in m for m in sent(app)),
        )


async def test_a_store_that_stops_answering_is_said_once_and_its_return_too(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.errors import StoreError

    app = make_app(settings, [[text("hi there")]], store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        screen = app.chat_screen
        listed = store.list_sessions

        async def down(**_: Any) -> list[Any]:
            raise StoreError("The database postgresql://ann:***@db/team failed: server closed.")

        monkeypatch.setattr(store, "list_sessions", down)
        for _ in range(3):  # three of the pane's ten-second refreshes, each to its end
            screen._refresh_sessions_when_idle()
            await wait_for(
                pilot, lambda: all(w.is_finished for w in app.workers if w.group == "sessions")
            )
        warned = [n for n in _notices(app) if "server closed" in n]
        assert len(warned) == 1 and "refreshes when it answers again" in warned[0]
        monkeypatch.setattr(store, "list_sessions", listed)
        screen._refresh_sessions_when_idle()
        await wait_for(pilot, lambda: "The database answers again." in _notices(app))
