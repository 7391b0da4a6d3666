"""Building the app for Pilot tests: temp dirs, the scripted provider, waiting for conditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from engine.providers import base as stream
from engine.providers.base import Provider, ProviderEvent
from engine.providers.scripted import ScriptedProvider
from engine.settings import Settings
from engine.workspace import Workspace
from tests.fakes.scripts import GREETING, edit, text
from tui.app import ScoreChatApp, build_app

__all__ = [
    "GREETING",
    "HeldProvider",
    "edit",
    "is_open",
    "make_app",
    "notice_lines",
        "opened",
    "press_for",
    "ready",
    "replies",
    "send_and_wait",
    "sent",
    "text",
    "type_and_send",
    "wait_for",
]  # fmt: skip


class HeldProvider(ScriptedProvider):
    """The scripted provider whose first reply, its text streamed, stays open until
    ``release`` is set: a test acts during a reply without making the reply long."""

    def __init__(self, responses: list[list[dict[str, Any]]]) -> None:
        super().__init__(responses)
        self.release = asyncio.Event()

    async def stream(
        self, messages: list[dict[str, Any]], system: str
    ) -> AsyncIterator[ProviderEvent]:
        held = not self.calls
        async for event in super().stream(messages, system):
            if held and isinstance(event, stream.UsageReport):
                await self.release.wait()
            yield event


def make_app(
    settings: Settings,
    responses: list[list[dict[str, Any]]] | None = None,
    *,
    score: str | None = "greeting",
    chunk_delay: float = 0.0,
    provider: Provider | None = None,
    **kwargs: Any,
) -> ScoreChatApp:
    """The app on ``score`` with the scripted provider playing ``responses`` (or
    ``provider`` when given; no model at all when neither is)."""
    if provider is None and responses is not None:
        provider = ScriptedProvider(responses, chunk_delay=chunk_delay)
    ref = Workspace(settings.workspace).resolve_score(score) if score else None
    app = build_app(settings, provider=provider, score=ref, **kwargs)
    if provider is None:
        app.provider_checked = False
    return app


def is_open(app: ScoreChatApp) -> bool:
    """The session is fully shown (its last step gives the prompt the focus)."""
    screen = app.chat_screen
    return screen.chat is not None and screen.opened_id == screen.chat.id


@asynccontextmanager
async def opened(
    settings: Settings, size: tuple[int, int] = (120, 40), **kwargs: Any
) -> AsyncIterator[tuple[ScoreChatApp, Any]]:
    """The app (no model replies unless ``responses`` is given) with its session open."""
    app = make_app(settings, kwargs.pop("responses", []), **kwargs)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        yield app, pilot


async def press_for(pilot: Any, key: str, screen: type) -> Any:
    """Press ``key`` and wait for a screen of type ``screen`` to be shown; returns it."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen))
    return pilot.app.screen


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await pilot.pause(0.05)


async def ready(pilot: Any) -> None:
    """Wait until the session is fully shown and the prompt has the focus (it is given
    with the last step of opening, and lands a moment later)."""
    from tui.widgets.prompt import PromptInput

    await wait_for(pilot, lambda: is_open(pilot.app) and isinstance(pilot.app.focused, PromptInput))


async def type_and_send(pilot: Any, message: str) -> None:
    """Type ``message`` into the prompt and press Enter, as a person does."""
    from tui.widgets.prompt import PromptInput

    prompt = pilot.app.chat_screen.query_one(PromptInput)
    prompt.focus()
    prompt.load_text(message)
    await pilot.press("enter")


async def send_and_wait(pilot: Any, message: str) -> None:
    """``type_and_send``, then wait until the reply has ended."""
    await type_and_send(pilot, message)
    await wait_for(pilot, lambda: not pilot.app.chat_screen._turn.is_running)


def sent(app: ScoreChatApp) -> list[str]:
    """The person's messages the conversation shows, as plain text, oldest first."""
    from tui.widgets.conversation import UserMessage

    return [str(w.render()) for w in app.chat_screen.query(UserMessage)]


def replies(app: ScoreChatApp) -> list[str]:
    """The assistant's replies the conversation shows (their Markdown source)."""
    from tui.widgets.conversation import AssistantMessage

    return [w.text for w in app.chat_screen.query(AssistantMessage)]


def notice_lines(app: ScoreChatApp) -> list[str]:
    """The notice lines of the conversation (retries, errors, hints), as plain text."""
    from tui.widgets.conversation import NoticeLine

    return [str(w.render()) for w in app.chat_screen.query(NoticeLine)]


async def browse(pilot: Any, query: str = "") -> Any:
    """Open the sessions browser with Ctrl+B (from the prompt) and type ``query`` into
    its search box; returns the browser screen."""
    from tui.screens.sessions import SessionsScreen

    await pilot.press("ctrl+b")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    if query:
        await pilot.press(*query)
    return pilot.app.screen
