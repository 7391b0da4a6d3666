"""Integrity under contention and hostile input: each test failed before its fix.

Lost updates between processes, the wrong file for a session, hangs on a refused
database, approval that did not ask, writes past the limits, YAML as YAML is, the
record after a failure, truncated streams, whole-session undo, a vanished database.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.agent import ChatSession
from engine.diffing import changed_key_paths
from engine.editor_tool import EditorTool, ProposedEdit
from engine.errors import StoreError
from engine.events import FileChanged, Retrying, ToolResult, TurnDone, TurnFailed
from engine.providers.anthropic import AnthropicProvider, to_anthropic_messages
from engine.providers.ollama import OllamaProvider
from engine.providers.scripted import ScriptedProvider
from engine.providers.text_protocol import parse_edit_blocks
from engine.settings import Settings
from engine.store import Store
from engine.workspace import MAX_FILE_BYTES, Workspace
from engine.yaml_text import check_text
from tests.fakes.scripts import GREETING, edit, text, tool
from tests.fakes.steps import Step

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY_YAML = "name: Concurrency\nclass: LangGraphScore\nitems:\n  - seed\n"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


async def _start(settings: Settings, store: Store, provider: Any, score: str = "greeting"):  # type: ignore[no-untyped-def]
    ws = Workspace(settings.workspace)
    return await ChatSession.start(
        store=store, workspace=ws, settings=settings, provider=provider,
        score=ws.resolve_score(score),
    )  # fmt: skip


async def _collect(chat: ChatSession, message: str) -> list[Any]:
    return [event async for event in chat.send(message)]


# ---- 1. no lost update -------------------------------------------------------------------------


def _race(tmp_path: Path, processes: int, rounds: int) -> tuple[list[dict[str, Any]], str, Path]:
    workspace = tmp_path / "ws"
    (workspace / "Card").mkdir(parents=True, exist_ok=True)
    (workspace / "Card" / "Concurrency.yaml").write_text(CONCURRENCY_YAML)
    db = tmp_path / "race.db"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.edit_worker",
                str(workspace),
                str(db),
                f"w{n}",
                str(rounds),
            ],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for n in range(processes)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    return results, (workspace / "Card" / "Concurrency.yaml").read_text(), db


def _assert_whole(results: list[dict[str, Any]], final: str, db: Path) -> None:
    for result in results:
        assert result["applied"] is not None, result["errors"]
        # Every edit reported applied is in the file.
        assert f"  - {result['applied']}\n" in final, (result, final)
        assert not result["errors"], result["errors"]
    with sqlite3.connect(db) as conn:
        chain = conn.execute(
            "SELECT before, after FROM edits WHERE path = 'Card/Concurrency.yaml' ORDER BY id"
        ).fetchall()
    # The edit chain is whole: each edit starts from the text the previous one left.
    assert chain[0][0] == CONCURRENCY_YAML
    for (_, after), (before, _) in itertools.pairwise(chain):
        assert before == after
    assert chain[-1][1] == final


def test_sixteen_processes_lose_no_edit(tmp_path: Path) -> None:
    results, final, db = _race(tmp_path, processes=16, rounds=4)
    _assert_whole(results, final, db)
    assert final.count("\n  - w") == 16


def test_two_processes_lose_no_edit_over_many_trials(tmp_path: Path) -> None:
    for trial in range(12):
        results, final, db = _race(tmp_path / f"t{trial}", processes=2, rounds=6)
        _assert_whole(results, final, db)


async def test_lock_is_taken_by_tools_in_one_process(workspace: Path) -> None:
    # Two tools in one event loop (two sessions in one app) are serialised too.
    (workspace / "Card").mkdir()
    (workspace / "Card" / "Concurrency.yaml").write_text(CONCURRENCY_YAML)
    tools = [EditorTool(workspace) for _ in range(2)]

    async def insert(tool: EditorTool, n: int) -> bool:
        result = await tool.run(
            {"command": "insert", "path": "Card/Concurrency.yaml", "insert_line": 3,
             "insert_text": f"  - t{n}"}
        )  # fmt: skip
        return not result.is_error

    outcomes = await asyncio.gather(*(insert(tools[n % 2], n) for n in range(20)))
    final = (workspace / "Card" / "Concurrency.yaml").read_text()
    assert all(outcomes) and all(f"  - t{n}\n" in final for n in range(20))


# ---- 2. a session is its file ------------------------------------------------------------------


async def test_sessions_are_found_by_path_not_by_name(settings: Settings, store: Store) -> None:
    ws = Workspace(settings.workspace)
    card = ws.root / "Twins"
    card.mkdir()
    (card / "One.yaml").write_text("name: Test Score\nclass: LangGraphScore\nkey: one\n")
    (card / "Two.yaml").write_text("name: Test Score\nclass: LangGraphScore\nkey: two\n")
    first = await ChatSession.start(
        store=store, workspace=ws, settings=settings, provider=None,
        score=ws.resolve_score("Twins/One.yaml"),
    )  # fmt: skip
    found = await store.list_sessions(path="Twins/Two.yaml", workspace=str(ws.root))
    assert found == []
    assert [s.id for s in await store.list_sessions(path="Twins/One.yaml")] == [first.id]


async def test_app_opens_the_second_twin_with_its_own_session(settings: Settings) -> None:
    from tests.tui.helpers import make_app, ready

    ws = Workspace(settings.workspace)
    card = ws.root / "Twins"
    card.mkdir()
    (card / "One.yaml").write_text("name: Test Score\nclass: LangGraphScore\nkey: one\n")
    (card / "Two.yaml").write_text("name: Test Score\nclass: LangGraphScore\nkey: two\n")
    app = make_app(settings, [], score="Twins/One.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.start_session(ws.resolve_score("Twins/Two.yaml"))
        await pilot.pause()
        assert app.chat_screen.chat is not None
        assert app.chat_screen.chat.record.path == "Twins/Two.yaml"


async def test_resuming_in_another_workspace_is_refused(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    import shutil

    chat = await _start(settings, store, None)
    other = tmp_path / "other"
    shutil.copytree(settings.workspace, other)
    with pytest.raises(Exception, match="belongs to the workspace"):
        await ChatSession.resume(
            store=store, workspace=Workspace(other), settings=settings, provider=None,
            session_id=chat.id,
        )  # fmt: skip


# ---- 3. no hang ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["newer", "folder", "damaged"])
def test_refused_database_open_exits(tmp_path: Path, case: str) -> None:
    db = tmp_path / "x.db"
    if case == "newer":
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA user_version = 99")
    elif case == "folder":
        db.mkdir()
    else:
        db.write_bytes(b"this is not a database" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--db", str(db), "sessions", "list"],
        capture_output=True, text=True, env=_env(), timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("scorechat: "), result.stderr
    assert "Traceback" not in result.stderr


# ---- 4. approval means approval -------------------------------------------------------------------


async def test_model_undo_goes_through_the_approver(workspace: Path) -> None:
    asked: list[ProposedEdit] = []

    async def approver(proposal: ProposedEdit) -> str | None:
        asked.append(proposal)
        return None if proposal.command != "undo_edit" else "keep it"

    tool = EditorTool(workspace, approver=approver)
    done = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 7"}
    )
    assert not done.is_error
    undone = await tool.run({"command": "undo_edit", "path": GREETING})
    assert undone.is_error and "rejected" in undone.text and "keep it" in undone.text
    assert [p.command for p in asked] == ["str_replace", "undo_edit"]
    assert "limit: 7" in (workspace / GREETING).read_text()


def test_cli_ask_mode_without_a_terminal_refuses(workspace: Path, tmp_path: Path) -> None:
    before = (workspace / GREETING).read_text()
    script = tmp_path / "s.json"
    script.write_text(json.dumps([[edit("limit: 100", "limit: 1")], [text("done")]]))
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-w", str(workspace), "--approval", "ask", "message",
         "lower it", "--score", "greeting", "--provider", "scripted", "--script", str(script)],
        capture_output=True, text=True, env=_env(), timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2 and "needs a terminal" in result.stderr
    assert (workspace / GREETING).read_text() == before


# ---- 5. limits on writes ------------------------------------------------------------------------


async def test_write_past_the_size_limit_is_refused(workspace: Path) -> None:
    tool = EditorTool(workspace)
    huge = "x" * (MAX_FILE_BYTES + 10)
    before = (workspace / GREETING).read_bytes()
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100",
         "new_str": f"limit: 100\nnote: {huge}"}
    )  # fmt: skip
    assert result.is_error and "limit for a score" in result.text
    assert (workspace / GREETING).read_bytes() == before


async def test_every_result_is_bounded(workspace: Path) -> None:
    tool = EditorTool(workspace, max_chars=2000)
    line = "y" * 500_000
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100",
         "new_str": f"limit: 100\nnote: {line}"}
    )  # fmt: skip
    assert not result.is_error and len(result.text) < 3200 and "Result cut at" in result.text


# ---- 6. YAML as YAML is --------------------------------------------------------------------------


async def test_tab_inside_a_block_scalar_is_valid(workspace: Path) -> None:
    path = workspace / "Customer Service QA" / "Tabs.yaml"
    path.write_text("name: Tabs\nclass: LangGraphScore\nprompt: |\n  one\n  \ttwo\n")
    assert check_text(path.read_text()).ok
    tool = EditorTool(workspace)
    result = await tool.run(
        {"command": "str_replace", "path": "Customer Service QA/Tabs.yaml", "old_str": "one",
         "new_str": "uno"}
    )  # fmt: skip
    assert not result.is_error, result.text
    refused = check_text("name: x\nitems:\n\t- a\n")
    assert not refused.ok and "tab" in str(refused.error)


def test_aliases_are_bounded() -> None:
    text_ = "name: x\nclass: C\na: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    previous = "a"
    for level in range(1, 14):
        text_ += f"l{level}: &l{level} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = f"l{level}"
    assert changed_key_paths(text_, text_.replace("name: x", "name: y")) == ["name"]
    cyclic = "name: x\nclass: C\nr: &r [*r]\n"
    assert changed_key_paths(cyclic, cyclic.replace("name: x", "name: z")) == ["name"]


async def test_self_referencing_alias_does_not_fail_the_turn(
    settings: Settings, store: Store, workspace: Path
) -> None:
    path = workspace / GREETING
    path.write_text(path.read_text() + "loop: &loop\n  again: *loop\n")
    provider = ScriptedProvider([[edit("limit: 100", "limit: 5")], [text("ok")]])
    chat = await _start(settings, store, provider)
    events = await _collect(chat, "lower the limit")
    assert isinstance(events[-1], TurnDone)
    assert any(isinstance(e, FileChanged) for e in events)
    tool_rows = [m for m in await store.messages(chat.id) if m.role == "tool"]
    assert tool_rows and not tool_rows[0].parts[0]["is_error"]


async def test_byte_order_mark_is_kept(workspace: Path) -> None:
    path = workspace / "Customer Service QA" / "Bom.yaml"
    path.write_bytes("\ufeffname: Bom Score\nclass: LangGraphScore\n".encode())
    ws = Workspace(workspace)
    assert ws.resolve_score("Bom Score").path == path
    tool = EditorTool(workspace)
    result = await tool.run(
        {"command": "insert", "path": "Customer Service QA/Bom.yaml", "insert_line": 0,
         "insert_text": "# first"}
    )  # fmt: skip
    assert not result.is_error
    assert path.read_bytes().startswith("\ufeff# first\nname: Bom Score".encode())


# ---- 7. nothing after a write breaks the record -------------------------------------------------


async def test_exception_after_a_write_keeps_the_record(
    settings: Settings, store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ScriptedProvider([[edit("limit: 100", "limit: 9")], [text("ok")]])
    chat = await _start(settings, store, provider)

    async def broken(self: ChatSession, result: Any) -> Any:
        raise RuntimeError("drawing the diff broke")

    monkeypatch.setattr(ChatSession, "_file_changed", broken)
    events = await _collect(chat, "lower it")
    assert isinstance(events[-1], TurnFailed) and "RuntimeError" in events[-1].message
    assert "limit: 9" in (workspace / GREETING).read_text()
    assert len(await store.edits(chat.id)) == 1
    tool_rows = [m for m in await store.messages(chat.id) if m.role == "tool"]
    assert tool_rows and "has been edited" in tool_rows[0].parts[0]["content"]


async def test_failed_edit_record_puts_the_file_back(
    workspace: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (workspace / GREETING).read_bytes()

    async def full(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "record_edit", full)
    tool = EditorTool(workspace, store)
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 2"}
    )
    assert result.is_error and "could not be recorded" in result.text
    assert (workspace / GREETING).read_bytes() == before


async def test_a_key_made_twice_across_a_comment_in_a_node_is_refused(tmp_path: Path) -> None:
    """With the file parsed once (as the app does when it opens it), an edit above a
    comment line at the nodes' column that repeats a key below the comment was checked
    on a re-parse of the node cut at the comment, and written: invalid YAML on disk."""
    from engine.yaml_text import parse_plain

    card = tmp_path / "ws" / "C"
    card.mkdir(parents=True)
    text = (
        "name: X\nclass: LangGraphScore\ngraph:\n  - name: a\n    class: Classifier\n"
        '    threshold: 1\n  # reviewed\n    valid_classes: ["Yes", "No"]\n'
        '  - name: b\n    class: Classifier\n    valid_classes: ["Yes", "No"]\n'
    )
    (card / "S.yaml").write_text(text)
    parse_plain(text)
    result = await EditorTool(tmp_path / "ws").run(
        {"command": "str_replace", "path": "C/S.yaml", "old_str": "    threshold: 1\n",
         "new_str": '    valid_classes: ["A"]\n'}
    )  # fmt: skip
    assert result.is_error and "duplicate key 'valid_classes'" in result.text
    assert (card / "S.yaml").read_text() == text


async def test_a_full_disk_is_one_sentence_and_leaves_the_file(
    workspace: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    before = (workspace / GREETING).read_bytes()

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("engine.editor_tool.atomic_write", full)
    tool = EditorTool(workspace, store)
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 2"}
    )
    assert result.is_error
    assert result.text == (
        f"The str_replace command could not be carried out on {GREETING}: "
        "No space left on device. The file is unchanged."
    )
    assert (workspace / GREETING).read_bytes() == before
    assert await store.last_undoable_edit(GREETING) is None


async def test_an_edit_neither_recorded_nor_put_back_says_so(
    workspace: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    async def unrecorded(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    def stuck(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store, "record_edit", unrecorded)
    monkeypatch.setattr("engine.editor_tool._put_back", stuck)
    tool = EditorTool(workspace, store)
    result = await tool.run(
        {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 2"}
    )
    # The file was written and could not be restored: never "unchanged".
    assert result.is_error and "unchanged" not in result.text
    assert "could not be put back (Read-only file system)" in result.text
    assert "limit: 2" in (workspace / GREETING).read_text()


async def fill_the_disk(store: Store) -> None:
    """Let the SQLite file grow no more: a write needing a new page fails as on a full disk
    ("database or disk is full"), from SQLite itself."""
    pages = (await store._one("PRAGMA page_count"))["page_count"]  # type: ignore[index]
    await store._db.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]


async def test_a_message_a_full_disk_cannot_hold_fails_the_turn_in_one_sentence(
    settings: Settings, store: Store
) -> None:
    """SQLite's own errors left the store raw (``OperationalError``): the turn's first
    step did not catch them, and the app said "Something went wrong"."""
    chat = await _start(settings, store, ScriptedProvider([[text("never asked")]]))
    await fill_the_disk(store)
    events = await _collect(chat, "q" * 200_000)
    assert [type(e) for e in events] == [TurnFailed]
    assert events[0].message.endswith("failed: database or disk is full.")
    with pytest.raises(StoreError, match="database or disk is full"):
        await store.add_message(chat.id, "user", "q" * 200_000)
    assert (await store._one("PRAGMA integrity_check"))["integrity_check"] == "ok"  # type: ignore[index]
    assert await store.messages(chat.id) == []


def test_what_the_engine_logs_never_reaches_the_terminal(workspace: Path, tmp_path: Path) -> None:
    """A command's logged errors go to the log file; with no log file they are dropped,
    never printed with a traceback."""
    bare = subprocess.run(
        [sys.executable, "-c",
         "from engine.logs import get_logger\n"
         "try:\n    1 / 0\nexcept ZeroDivisionError:\n"
         "    get_logger('x').exception('a bug')\n"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert bare.stderr == ""
    home = tmp_path / "home"
    script = tmp_path / "script.json"
    script.write_text(json.dumps([[tool(command="view", path="nowhere.yaml")], [text("ok")]]))
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-w", str(workspace), "message", "look", "--score",
         "greeting", "--provider", "scripted", "--script", str(script), "--json"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "SCORECHAT_HOME": str(home)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == ""
    assert "turn done in session" in (home / "logs" / "scorechat.log").read_text()


async def test_markup_in_a_tool_path_is_shown_as_text(settings: Settings) -> None:
    from tests.tui.helpers import make_app, ready, type_and_send, wait_for
    from tui.widgets.conversation import ToolCallRow

    script = [
        [tool(command="view", path="[/]bad[b].yaml")],
        [text("done")],
    ]
    app = make_app(settings, script)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "look")
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        rows = list(app.chat_screen.query(ToolCallRow))
        assert rows and "[b].yaml" in rows[0].title


async def test_escape_sequences_in_names_files_and_replies_are_drawn_as_symbols(
    settings: Settings,
) -> None:
    """A score's name, its file and a model's reply reach the screen with their control
    characters drawn (``␛``), never sent: an OSC sequence would retitle the window, OSC
    52 would write the clipboard."""
    from tests.tui.helpers import make_app, ready, send_and_wait

    card = settings.workspace / "Hostile"
    card.mkdir()
    (card / "Osc.yaml").write_text('name: "Title\x1b]0;pwned\x07"\nkey: osc\nclass: X\n')
    reply = "Copied \x1b]52;c;cHduZWQ=\x07 and \x1b[2J cleared"
    app = make_app(settings, [[text(reply)]], score="osc")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "hello \x1b[31mred")
        await pilot.pause(0.3)
        screen = app.export_screenshot().replace("&#160;", " ")
    assert "\x1b" not in screen and "\x07" not in screen
    assert "Title␛]0;pwned" in screen  # the conversation's title, from the name
    assert "␛]52;c;cHduZWQ=" in screen and "␛[2J" in screen  # the reply
    assert "hello ␛[31mred" in screen  # what was typed


async def test_markup_in_names_and_paths_is_shown_as_it_is(settings: Settings) -> None:
    """A scorecard folder, a score name and a reply that look like Textual markup (a
    style, a click action) are drawn as the characters they are, never applied."""
    from tests.tui.helpers import make_app, ready, send_and_wait

    card = settings.workspace / "[b]Sales[@click=app.quit] x"
    card.mkdir()
    (card / "Pricing.yaml").write_text('name: "Pricing [red]Accuracy"\nkey: pricing\nclass: X\n')
    app = make_app(settings, [[text("ok [bold]done[/bold]")]], score="pricing")
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot)
        await send_and_wait(pilot, "is [i]this[/i] kept?")
        await pilot.pause(0.3)
        screen = app.export_screenshot().replace("&#160;", " ")
    assert "[b]Sales[@click=app.quit] x/Pricing.yaml" in screen  # the changes pane's path
    assert "Pricing [red]Accuracy" in screen  # the conversation's title
    assert "ok [bold]done[/bold]" in screen and "is [i]this[/i] kept?" in screen


# ---- 8 and 9. mid-stream faults and truncation, against the installed SDKs ---------------------


def _claude(server: Any) -> AnthropicProvider:
    return AnthropicProvider(
        "claude-sonnet-4-6", api_key="test-key", base_url=server.url, timeout=1
    )


@pytest.mark.parametrize(
    "fault",
    [Step(text="one two three four five", drop_after=2),
     Step(text="one two three four five", malformed_after=2),
     Step(text="one two three", stall=3),
     Step(text="one two three", end_early=True)],
    ids=["drop", "malformed", "stall", "no-message-stop"],
)  # fmt: skip
async def test_anthropic_mid_stream_faults_are_retried(
    settings: Settings, store: Store, anthropic_server: Any, fault: Step
) -> None:
    anthropic_server.queue(fault, Step(text="whole reply"))
    chat = await _start(settings, store, _claude(anthropic_server))
    events = await _collect(chat, "hi")
    retries = [e for e in events if isinstance(e, Retrying)]
    assert retries and all(r.reason.strip() for r in retries)
    assert isinstance(events[-1], TurnDone) and events[-1].text == "whole reply"


async def test_anthropic_gives_up_with_a_reason(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    anthropic_server.queue(*[Step(text="a b c", stall=3) for _ in range(3)])
    chat = await _start(settings, store, _claude(anthropic_server))
    events = await _collect(chat, "hi")
    assert isinstance(events[-1], TurnFailed)
    assert "timed out" in events[-1].message and ": ." not in events[-1].message


@pytest.mark.parametrize("provider_name", ["anthropic", "ollama"])
async def test_max_tokens_is_marked_and_said(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any,
    provider_name: str,
) -> None:  # fmt: skip
    if provider_name == "anthropic":
        anthropic_server.queue(Step(text="a long answer", stop_reason="max_tokens"))
        provider: Any = _claude(anthropic_server)
    else:
        ollama_server.queue(Step(text="a long answer", stop_reason="length"))
        provider = OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=5)
    chat = await _start(settings, store, provider)
    events = await _collect(chat, "hi")
    assert isinstance(events[-1], TurnFailed) and "cut off at the token limit" in events[-1].message
    replies = [m for m in await store.messages(chat.id) if m.role == "assistant"]
    assert replies[0].status == "truncated" and replies[0].text == "a long answer"
    # The sentence the user saw stays on record for a resumed session.
    assert replies[-1].parts == [{"type": "error", "text": events[-1].message}]


async def test_a_reply_that_never_ends_is_cut_and_the_turn_ends(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A model that runs on and on, or a server that never ends its stream: the reply is
    read up to a bound, kept, marked cut, and the turn ends (it used to run for ever:
    the app until Esc, `message` and a worker's task without end)."""
    from engine.providers import base

    ollama_server.queue(Step(text="again " * 500, words_per_chunk=500, forever=True))
    provider = OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=5)
    chat = await _start(settings, store, provider)
    events = await asyncio.wait_for(_collect(chat, "hi"), 60)
    assert isinstance(events[-1], TurnFailed) and "cut off" in events[-1].message
    reply = next(m for m in await store.messages(chat.id) if m.role == "assistant")
    assert reply.status == "truncated"
    assert base.MAX_REPLY_CHARS - 3_000 <= len(reply.text) <= base.MAX_REPLY_CHARS
    assert ollama_server.chat_requests[-1]["options"]["num_predict"] == base.MAX_REPLY_TOKENS
    # Claude: one tool call whose arguments never end. No edit is made.
    monkeypatch.setattr(base, "MAX_ARGUMENT_CHARS", 20_000)
    before = (settings.workspace / GREETING).read_text()
    anthropic_server.queue(
        Step(text="Editing.", tool_calls=[edit("limit: 100", "limit: 7")], forever=True)
    )
    chat = await _start(settings, store, _claude(anthropic_server))
    events = await asyncio.wait_for(_collect(chat, "hi"), 60)
    assert isinstance(events[-1], TurnFailed) and "cut off" in events[-1].message
    assert (settings.workspace / GREETING).read_text() == before
    assert anthropic_server.message_requests[-1]["max_tokens"] == base.MAX_REPLY_TOKENS


async def test_what_a_server_sends_after_the_end_of_a_reply_is_not_read(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any
) -> None:
    """A server that goes on after the reply's final event (a second ``done`` line, more
    blocks after ``message_stop``): an edit in the reply is made once, not again."""
    note = {"command": "insert", "path": GREETING, "insert_line": 0, "new_str": "# note"}
    block = "Adding a note.\n```edit\n" + json.dumps(note) + "\n```\n"
    ollama_server.queue(Step(text=block, more_after_end=True), Step(text="Added."))
    chat = await _start(settings, store, OllamaProvider("llama3.2:1b", host=ollama_server.url))
    events = await _collect(chat, "add a note")
    assert isinstance(events[-1], TurnDone), events[-1]
    assert (settings.workspace / GREETING).read_text().count("# note\n") == 1
    anthropic_server.queue(
        Step(tool_calls=[{"name": "", "input": note}], more_after_end=True), Step(text="Added.")
    )
    chat = await _start(settings, store, _claude(anthropic_server))
    events = await _collect(chat, "add a note")
    assert isinstance(events[-1], TurnDone), events[-1]
    assert (settings.workspace / GREETING).read_text().count("# note\n") == 2


async def test_tool_arguments_nested_without_end_go_back_to_the_model(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    """JSON nested 5,000 deep failed the turn ("maximum recursion depth exceeded"); one
    nested 30 deep would be stored and read back at every later turn."""
    nested: dict[str, Any] = {"command": "view", "path": GREETING}
    for _ in range(30):
        nested = {"command": "view", "path": GREETING, "view_range": [nested]}
    chat = await _start(settings, store, _claude(anthropic_server))
    for arguments in ('{"a":' * 5000, nested):
        anthropic_server.queue(
            Step(tool_calls=[{"name": "", "input": arguments}]), Step(text="I will keep it flat.")
        )
        events = await _collect(chat, "look")
        assert isinstance(events[-1], TurnDone), events[-1]
        [result] = [e.text for e in events if isinstance(e, ToolResult)]
        assert result.startswith("The tool call could not be run") and "nested too deeply" in result
    resumed = await ChatSession.resume(
        store=store, workspace=Workspace(settings.workspace), settings=settings,
        provider=_claude(anthropic_server), session_id=chat.id,
    )  # fmt: skip
    anthropic_server.queue(Step(text="Still here."))
    assert isinstance((await _collect(resumed, "and?"))[-1], TurnDone)


async def test_ollama_stream_without_done_is_retried(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="half of it", end_early=True), Step(text="all of it"))
    provider = OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=5)
    chat = await _start(settings, store, provider)
    events = await _collect(chat, "hi")
    assert any(isinstance(e, Retrying) for e in events)
    assert isinstance(events[-1], TurnDone) and events[-1].text == "all of it"


async def test_half_sent_tool_call_is_reported(
    settings: Settings, store: Store, anthropic_server: Any, workspace: Path
) -> None:
    before = (workspace / GREETING).read_text()
    call = {"name": "", "input": {"command": "str_replace", "path": GREETING,
                                  "old_str": "limit: 100", "new_str": "limit: 3"}}  # fmt: skip
    anthropic_server.queue(
        Step(text="Editing.", tool_calls=[call], cut_tool_call=True, stop_reason="max_tokens")
    )
    chat = await _start(settings, store, _claude(anthropic_server))
    events = await _collect(chat, "lower it")
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results and results[0].is_error and "cut off" in results[0].text
    assert isinstance(events[-1], TurnFailed)
    assert (workspace / GREETING).read_text() == before


# ---- 10. whole-session undo ----------------------------------------------------------------------


async def test_undo_all_covers_every_file_and_says_where_it_stopped(
    settings: Settings, store: Store, workspace: Path
) -> None:
    other = "Customer Service QA/Hold Procedure.yaml"
    originals = {p: (workspace / p).read_bytes() for p in (GREETING, other)}

    def two_files() -> ScriptedProvider:
        return ScriptedProvider([
            [edit("limit: 100", "limit: 1")],
            [tool(command="insert", path=other, insert_line=0, insert_text="# touched")],
            [text("ok")],
        ])  # fmt: skip

    chat = await _start(settings, store, two_files())
    await _collect(chat, "edit two files")
    report = await chat.undo_all()
    assert (report.undone, report.remaining, report.stopped) == (2, 0, None)
    assert {p: (workspace / p).read_bytes() for p in originals} == originals

    chat2 = await _start(settings, store, two_files())
    await _collect(chat2, "edit two files again")
    (workspace / GREETING).write_text((workspace / GREETING).read_text() + "# by hand\n")
    report = await chat2.undo_all()
    assert (
        report.undone == 1 and report.remaining == 1 and "changed since" in (report.stopped or "")
    )
    assert "Undid 1 edit, then stopped with 1 left" in report.text


async def test_undo_never_touches_another_sessions_edit(
    settings: Settings, store: Store, workspace: Path
) -> None:
    mine = await _start(settings, store, ScriptedProvider([[text("hi")]]))
    theirs = await _start(
        settings, store, ScriptedProvider([[edit("limit: 100", "limit: 4")], [text("ok")]])
    )
    await _collect(theirs, "lower it")
    result = await mine.undo_last()
    assert result.is_error and "made in this session" in result.text
    assert "limit: 4" in (workspace / GREETING).read_text()


# ---- 11. the database going away -----------------------------------------------------------------


async def test_deleted_database_is_detected(settings: Settings) -> None:
    store = await Store.open(settings.db_path)
    try:
        session = await store.create_session(scorecard="c", score="s", path="p.yaml", baseline="")
        settings.db_path.unlink()
        with pytest.raises(StoreError, match="deleted or replaced"):
            await store.add_message(session.id, "user", "typed after the delete")
    finally:
        await store.close()


# ---- 12. replays a provider accepts ---------------------------------------------------------------


async def test_whitespace_only_text_is_not_replayed(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    wire = to_anthropic_messages([
        {"role": "user", "text": "hi"},
        {"role": "assistant", "text": "\n\n", "tool_calls": [
            {"id": "t1", "name": "str_replace_based_edit_tool", "input": {"command": "view"}}]},
        {"role": "tool", "results": [{"tool_use_id": "t1", "content": " ", "is_error": False}]},
    ])  # fmt: skip
    assert [b["type"] for b in wire[1]["content"]] == ["tool_use"]
    # And over the wire, the loopback server refusing what the real API refuses.
    provider = ScriptedProvider([
        [text("\n\n"), tool(command="view", path=GREETING)],
        [text("seen")],
    ])  # fmt: skip
    chat = await _start(settings, store, provider)
    await _collect(chat, "look")
    events = [
        e async for e in (await ChatSession.resume(
            store=store, workspace=Workspace(settings.workspace), settings=settings,
            provider=_claude(anthropic_server), session_id=chat.id,
        )).send("and now?")
    ]  # fmt: skip
    assert isinstance(events[-1], TurnDone), events[-1]


# ---- 13. smaller holes ----------------------------------------------------------------------------


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=_env(),
        timeout=60, **kwargs,
    )  # fmt: skip


def test_wildcard_session_ids_match_nothing(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([[{"type": "text", "text": "hello"}]]))
    made = _cli("-w", str(workspace), "message", "hi", "--score", "greeting", "--provider",
                "scripted", "--script", str(script), "--json")  # fmt: skip
    chat_id = json.loads(made.stdout)["chat_id"]
    for pattern in ("%", "_", "*", chat_id[:3] + "%"):
        result = _cli("-w", str(workspace), "sessions", "delete", pattern, "--yes")
        assert result.returncode == 2, (pattern, result.stdout)
    assert chat_id in _cli("-w", str(workspace), "sessions", "list").stdout


async def test_pasted_keys_are_redacted_before_storing(store: Store) -> None:
    session = await store.create_session(scorecard="c", score="s", path="p.yaml", baseline="")
    await store.add_message(session.id, "user", "my key is sk-ant-api03-abcdefghijklmnop please")
    await store.add_prompt("sk-ant-api03-abcdefghijklmnop")
    raw = Path(store.path).read_bytes() + Path(str(store.path) + "-wal").read_bytes()
    assert b"abcdefghijklmnop" not in raw


def test_credentials_in_ollama_host_are_never_printed(workspace: Path) -> None:
    env = {**_env(), "OLLAMA_HOST": "http://bob:hunter2@127.0.0.1:9"}
    for args in (("doctor",), ("doctor", "--json")):
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", "-w", str(workspace), *args],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert "hunter2" not in result.stdout + result.stderr and "bob" not in result.stdout


async def test_symlink_leaving_the_workspace_is_not_a_score(
    workspace: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: Secret\nclass: X\n")
    (workspace / "Customer Service QA" / "Link.yaml").symlink_to(secret)
    names = [ref.score for ref in Workspace(workspace).scores()]
    assert "Secret" not in names and "Link" not in names
    result = await EditorTool(workspace).run(
        {"command": "view", "path": "Customer Service QA/Link.yaml"}
    )
    assert result.is_error and "Secret" not in result.text


async def test_only_score_files_are_edited_and_created_files_are_0644(workspace: Path) -> None:
    (workspace / "README.md").write_text("readme\n")
    tool = EditorTool(workspace)
    for command in (
        {"command": "str_replace", "path": "README.md", "old_str": "readme", "new_str": "x"},
        {"command": "insert", "path": "README.md", "insert_line": 0, "insert_text": "x"},
    ):
        result = await tool.run(command)
        assert result.is_error and "Only .yaml or .yml" in result.text
    assert (workspace / "README.md").read_text() == "readme\n"
    made = await tool.run(
        {"command": "create", "path": "New Card/New.yaml", "file_text": "name: New\nclass: C\n"}
    )
    assert not made.is_error
    mode = (workspace / "New Card" / "New.yaml").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    refused = await tool.run(
        {"command": "create", "path": "Deep/Er/Bad.yaml", "file_text": "a: [\n"}
    )
    assert refused.is_error and not (workspace / "Deep").exists()


def test_text_protocol_runs_only_the_replys_own_edit_blocks() -> None:
    example = (
        "Here is how an edit looks:\n\n```markdown\n```edit\n"
        '{"command": "view", "path": "a.yaml"}\n```\n```\n'
    )
    assert parse_edit_blocks(example) == []
    indented = '1. do this:\n   ```edit\n   {"command": "view", "path": "a.yaml"}\n   ```\n'
    calls = parse_edit_blocks(indented)
    assert len(calls) == 1 and calls[0].input is None and "indented" in (calls[0].error or "")
    action = 'Viewing.\n```edit\n{"command": "view", "path": "a.yaml"}\n```\n'
    assert parse_edit_blocks(action)[0].input == {"command": "view", "path": "a.yaml"}


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--workspace", "", "scores", "list"), {}),
        (("versions", "show", "99999999999999999999999"), {}),
        (("sessions", "show", "a" * 100_000), {}),
        (("doctor",), {"OLLAMA_HOST": "http://127.0.0.1:99999"}),
        (("doctor",), {"OLLAMA_TIMEOUT": "nan"}),
        (("doctor",), {"SCORECHAT_RETRY_BASE_DELAY": "abc"}),
        (("doctor",), {"SCORECHAT_RETRY_BASE_DELAY": "-1"}),
        (("doctor",), {"SCORECHAT_MAX_TOOL_ROUNDS": "1e9"}),
        (("sessions", "list", "--offset", "99999999999999999999"), {}),
        (("sessions", "list"), {"SCORECHAT_DB": "postgresql://ann:pw@db:port/x"}),
    ],
    ids=["empty-workspace", "huge-version", "long-session-id", "bad-port", "nan-timeout",
         "bad-delay", "negative-delay", "huge-rounds", "huge-offset", "bad-database-url"],
)  # fmt: skip
def test_bad_values_are_one_sentence_and_exit_2(
    workspace: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
        env={**_env(), "SCORECHAT_WORKSPACE": str(workspace), **env}, timeout=60,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("scorechat: ")
    assert "Unexpected error" not in lines[0] and len(lines[0]) < 300


def test_json_is_printed_when_the_turn_fails_and_retried_text_appears_once(
    workspace: Path, tmp_path: Path, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="lost words here", drop_after=2), Step(text="kept words"))
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-w", str(workspace), "message", "hi", "--score",
         "greeting", "--provider", "ollama", "--json"],
        capture_output=True, text=True, timeout=60,
        env={**_env(), "OLLAMA_HOST": ollama_server.url, "SCORECHAT_RETRY_BASE_DELAY": "0"},
    )  # fmt: skip
    out = json.loads(result.stdout)
    texts = [r["content"] for r in out["responses"] if r["type"] == "ai_message"]
    assert texts == ["kept words"], out


async def test_json_object_survives_a_store_failure_mid_turn(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    from tui.headless import run_message

    script = tmp_path / "s.json"
    script.write_text(json.dumps([[{"type": "text", "text": "hello"}]]))
    settings = settings.with_overrides(provider="scripted", script=script)
    real = Store.update_message

    async def full(self: Store, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("status") == "complete":
            raise sqlite3.OperationalError("database or disk is full")
        await real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "update_message", full)
    code = await run_message(
        settings, "hi", scorecard=None, score="greeting", session_id=None, as_json=True
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["chat_id"] and out["responses"][-1]["type"] == "error"


@pytest.mark.parametrize("provider_name", ["anthropic", "ollama"])
@pytest.mark.parametrize(
    "fault",
    [Step(text="one two three four five", drop_after=2),
     Step(text="one two three", stall=3),
     Step(text="one two three", end_early=True)],
    ids=["drop", "stall", "early-end"],
)  # fmt: skip
async def test_every_stream_fault_is_retried_on_both_providers(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any,
    provider_name: str, fault: Step,
) -> None:  # fmt: skip
    if provider_name == "anthropic":
        anthropic_server.queue(fault, Step(text="whole reply"))
        provider: Any = _claude(anthropic_server)
    else:
        ollama_server.queue(fault, Step(text="whole reply"))
        provider = OllamaProvider("qwen3:8b", host=ollama_server.url, timeout=1)
    chat = await _start(settings, store, provider)
    events = await _collect(chat, "hi")
    assert any(isinstance(e, Retrying) and e.reason.strip() for e in events)
    assert isinstance(events[-1], TurnDone) and events[-1].text == "whole reply"
    replies = [m for m in await store.messages(chat.id) if m.role == "assistant"]
    assert [m.text for m in replies] == ["whole reply"]  # the failed attempt left nothing


async def test_read_only_data_folder_still_reads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await Store.open(settings.db_path)
    session = await store.create_session(scorecard="c", score="s", path="p.yaml", baseline="")
    await store.add_message(session.id, "user", "kept")
    await store.close()
    # As the process sees a read-only folder (root ignores permission bits, so the
    # check is what is stubbed; the next test uses real bits when not root).
    monkeypatch.setattr("engine.sqlite_store.os.access", lambda *a, **k: False)
    reader = await Store.open_read_only(settings.db_path)
    try:
        assert [s.id for s in await reader.list_sessions()] == [session.id]
        assert (await reader.messages(session.id))[0].text == "kept"
        with pytest.raises(StoreError, match="read-only"):
            await reader.add_message(session.id, "user", "not stored")
    finally:
        await reader.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_commands_on_a_read_only_data_folder(workspace: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    listed = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--home", str(home), "-w", str(workspace),
         "sessions", "list"], capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0
    data = home / "data"
    os.chmod(data, 0o555)
    try:
        again = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--home", str(home), "-w", str(workspace),
             "sessions", "list"], capture_output=True, text=True, env=_env(), timeout=60,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
    finally:
        os.chmod(data, 0o755)
