"""Input comes first: a streaming reply waits while the person types, a finished reply
is drawn from lines laid out once, and its text can still be selected."""

from __future__ import annotations

import time

from textual.geometry import Offset
from textual.selection import Selection

from engine.settings import Settings
from tests.tui.helpers import make_app, opened, ready, wait_for
from tui.widgets.conversation import AssistantMessage, Conversation, ReplyLines
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
