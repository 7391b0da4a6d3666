"""SVG snapshots of the main screens at 120×40 and 80×24 (pytest-textual-snapshot)."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.settings import Settings, load_settings
from tests.tui.helpers import edit, is_open, make_app, text, wait_for
from tui.screens.modals import HelpScreen
from tui.screens.picker import PickerScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.conversation import ReplyLines
from tui.widgets.prompt import PromptInput

SIZES = [(120, 40), (80, 24)]


async def steady_cursors(pilot) -> None:  # type: ignore[no-untyped-def]
    """A blinking cursor would make snapshots depend on timing: blinking stops, and a
    focused text area is focused again once any blink already queued has landed (it
    would otherwise hide the cursor after blinking stopped), so its cursor is drawn."""
    from textual.widgets import Input, TextArea

    fields = [
        widget
        for screen in pilot.app.screen_stack
        for widget in screen.query("TextArea, Input")
        if isinstance(widget, TextArea | Input)
    ]
    for widget in fields:
        widget.cursor_blink = False
    await pilot.pause(0.1)
    focused = pilot.app.focused
    if isinstance(focused, TextArea):  # an Input focused again would select its text
        focused.blur()
        await pilot.pause()
        focused.focus()
    await pilot.pause()


async def settled(pilot) -> None:  # type: ignore[no-untyped-def]
    """Steady cursors, then the same frame twice, 0.2 s apart: on a loaded machine the
    layout of what the last event changed (a reply's final lines, the scroll to the end)
    can still be on its way when the test's own steps are done."""
    await steady_cursors(pilot)
    previous = None
    for _ in range(25):
        await pilot.wait_for_scheduled_animations()
        frame = pilot.app.export_screenshot()
        if frame == previous:
            return
        previous = frame
        await pilot.pause(0.2)


def conversation_app(settings: Settings):  # type: ignore[no-untyped-def]
    return make_app(settings, [
        [text("I'll raise the limit and add the class."), edit("limit: 100", "limit: 300"),
         edit('      - "No"\n', '      - "No"\n      - "Refund Promise"\n')],
        [text("Done:\n\n- `data.limit` is **300**\n- `valid_classes` has *Refund Promise*")],
    ])  # fmt: skip


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_chat_mid_conversation(snap_compare, settings: Settings, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await wait_for(pilot, lambda: is_open(app))
        prompt = app.chat_screen.query_one(PromptInput)
        prompt.load_text("raise the limit to 300 and add a 'Refund Promise' class")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.chat_screen._turn is not None and not app.chat_screen._turn.is_running,
        )
        await wait_for(pilot, lambda: not any(r.pending for r in app.query(ReplyLines)))
        # The prompt has the focus back (so its cursor is drawn), however loaded the machine.
        await wait_for(pilot, lambda: prompt.has_focus)
        if size[0] < 100:
            await pilot.press("f10")
        await settled(pilot)

    assert snap_compare(conversation_app(settings), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_picker(snap_compare, settings: Settings, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickerScreen))
        await pilot.press(*"compl")
        await settled(pilot)
        await pilot.pause(0.2)

    assert snap_compare(
        make_app(settings, [], score=None), terminal_size=size, run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_sessions_browser(snap_compare, settings: Settings, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await wait_for(pilot, lambda: is_open(app))
        app.chat_screen.query_one(PromptInput).load_text("add a Refund Promise class")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.chat_screen._turn.is_running)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press(*"refund")
        await wait_for(pilot, lambda: len(app.screen.rows) >= 1)
        await settled(pilot)
        await pilot.pause(0.2)

    app = make_app(settings, [[text("Added the Refund Promise class.")]])
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.fixture
def settings_at_fixed_paths(workspace: Path) -> Iterator[Settings]:
    """Help shows the workspace, database and log paths: here they are the same in every
    run (pytest's own temporary folders differ, and are longer under xdist). Tests that
    use them, in any process, take turns."""
    root = Path("/tmp/scorechat-help")
    with open("/tmp/scorechat-help.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(root, ignore_errors=True)
        try:
            shutil.copytree(workspace, root / "workspace")
            yield load_settings(
                workspace=root / "workspace", environ={"SCORECHAT_HOME": str(root / "home")}
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_help(snap_compare, settings_at_fixed_paths: Settings, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    settings = settings_at_fixed_paths

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_for(pilot, lambda: is_open(pilot.app))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await settled(pilot)
        await pilot.pause(0.2)

    assert snap_compare(make_app(settings, []), terminal_size=size, run_before=run_before)
