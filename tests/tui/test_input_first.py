"""Input comes first: a streaming reply waits while the person types, a finished reply
is drawn from lines laid out once, and its text can still be selected."""

from __future__ import annotations

import time
from typing import Any

import pytest
from textual.geometry import Offset
from textual.selection import Selection

from engine.settings import Settings
from tests.tui.helpers import make_app, opened, ready, wait_for
from tui.widgets.conversation import AssistantMessage, Conversation, MarkdownBlock, ReplyLines
from tui.widgets.prompt import PromptInput


async def test_a_streaming_reply_waits_while_the_person_types(settings: Settings) -> None:
    async with opened(settings) as (app, pilot):
        conversation = app.chat_screen.query_one(Conversation)
        reply = await conversation.assistant(1)
        lines = reply.query_one(ReplyLines)
        await pilot.press("h", "i")  # from the prompt, where the focus starts
        assert app.focused is app.chat_screen.query_one(PromptInput)
        assert 0 < conversation.typing_hold() <= Conversation.TYPING_HOLD
        reply.FLUSH_INTERVAL = 0  # type: ignore[misc]
        await reply.write("First block.\n\nSecond ")
        assert lines.blocks == []  # held: nothing drawn while keys arrive
        await wait_for(pilot, lambda: lines.blocks == ["First block."], timeout=3)
        assert conversation.typing_hold() <= 0
        await reply.write("block.")
        await reply.finish()
        assert lines.blocks == ["First block.", "Second block."]
        assert reply.text == "First block.\n\nSecond block."


async def test_finishing_draws_at_once_even_while_typing(settings: Settings) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        conversation = app.chat_screen.query_one(Conversation)
        reply = await conversation.assistant(2)
        app.chat_screen.query_one(PromptInput).last_key_at = time.monotonic()
        await reply.write("All of it.")
        await reply.finish()
        assert reply.query_one(ReplyLines).blocks == ["All of it."]


async def test_a_long_reply_that_ends_while_typing_is_laid_out_off_the_event_loop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What was held back while the person typed is laid out in a thread: their keys
    go on being drawn, and the reply keeps its live tail (never shrinks) meanwhile."""
    import threading

    threads: set[str] = set()
    render = ReplyLines._render_blocks

    def recorded(self: ReplyLines, *args: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(ReplyLines, "_render_blocks", recorded)
    monkeypatch.setattr(Conversation, "TYPING_HOLD", 30.0)  # typing, however slow the machine
    async with opened(settings) as (app, pilot):
        conversation = app.chat_screen.query_one(Conversation)
        reply = await conversation.assistant(3)
        lines = reply.query_one(ReplyLines)
        await pilot.press("h")  # typing: the reply is held back from here
        body = "\n\n".join(f"Block {i} with some words in it." for i in range(300))
        await reply.write(body + "\n\nThe tail")
        await reply.finish()
        assert len(lines.blocks) == 301 and lines.blocks[-1] == "The tail"
        heights = []
        await pilot.press("i")  # a key while the lines are laid out in the thread
        while lines.pending:
            heights.append(reply.size.height)
            await pilot.pause(0.01)
        assert threads - {threading.main_thread().name}, "laid out on the event loop"
        await pilot.pause()
        heights.append(reply.size.height)
        assert heights == sorted(heights), "the reply shrank while it was laid out"
        assert app.chat_screen.query_one(PromptInput).text == "hi"
        assert not reply.query(MarkdownBlock) or not reply.query_one(MarkdownBlock).display
        drawn = [lines.render_line(y).text.strip() for y in range(len(lines._strips))]
        assert "Block 299 with some words in it." in drawn and drawn[-1] == "The tail"


async def test_reply_lines_are_laid_out_once_and_can_be_selected(settings: Settings) -> None:
    app = make_app(settings, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        conversation = app.chat_screen.query_one(Conversation)
        await conversation.mount(AssistantMessage("Alpha beta.\n\n- one\n- two", message_id=9))
        lines = conversation.query(ReplyLines).last()
        await pilot.pause()
        width = lines.size.width
        assert lines.get_content_height(lines.size, lines.size, width) == 4  # a blank between
        drawn = [lines.render_line(y).text.rstrip() for y in range(4)]
        assert drawn[0] == "Alpha beta." and drawn[1] == "" and "one" in drawn[2]
        selection = Selection.from_offsets(Offset(0, 0), Offset(5, 0))
        assert lines.get_selection(selection) == ("Alpha", "\n")
        everything = Selection(None, None)
        text, _ = lines.get_selection(everything) or ("", "")
        assert "Alpha beta." in text and "two" in text


async def test_a_streaming_reply_lays_out_one_budget_a_frame_however_often_it_is_measured(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual measures a widget more than once in one lay-out: the budget is the
    frame's, so a second measurement lays out nothing more until the next frame."""
    spent: list[float] = []
    render = ReplyLines._render_blocks

    def timed(self: ReplyLines, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return render(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    monkeypatch.setattr(ReplyLines, "_render_blocks", timed)
    async with opened(settings) as (app, pilot):
        conversation = app.chat_screen.query_one(Conversation)
        reply = await conversation.assistant(4)
        lines = reply.query_one(ReplyLines)
        width = lines.size.width or 40
        lines.add([f"Block {i} with **some** words in it." for i in range(2000)])
        lines.get_content_height(lines.size, lines.size, width)  # one lay-out...
        first = lines._drawn
        lines.get_content_height(lines.size, lines.size, width)  # ...measuring it again
        assert 0 < first < 2000 and lines._drawn == first
        assert spent[-1] < ReplyLines.FRAME_BUDGET  # the second measurement did no work
        await wait_for(pilot, lambda: lines._drawn > first)  # the next frame goes on
