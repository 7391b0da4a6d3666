"""The chat screen: sessions (left), conversation and prompt (centre), YAML diff (right)."""

from __future__ import annotations

import asyncio
import difflib
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.worker import Worker

from engine.errors import ScoreChatError, StoreError
from engine.logs import get_logger
from tui.widgets.conversation import AssistantMessage, Conversation, WorkingIndicator
from tui.widgets.diff_pane import DiffPane
from tui.widgets.prompt import PromptInput
from tui.widgets.session_list import SessionList
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from engine import events as ev
    from engine.agent import ChatSession
    from engine.editor_tool import ProposedEdit
    from tui.app import ScoreChatApp

#: Messages mounted when a session opens; older ones load when scrolled to the top.
FIRST_PAGE = 20
OLDER_PAGE = 30
NARROW_WIDTH = 100
#: Appended wherever the app says no model answers.
NO_MODEL_KEYS = "scorechat keeps looking and connects when one answers; F4 or /model chooses one."
#: The most sessions the side pane holds (the browser, Ctrl+B, finds the rest).
SESSIONS_SHOWN = 5_000
#: Seconds between refreshes of the sessions pane.
SESSIONS_REFRESH = 10.0
#: How long the turn worker may run before it lets the app handle keys and repaint.
YIELD_INTERVAL = 0.008
#: Seconds after the last change before the prompt's text is kept as the session's draft.
DRAFT_DELAY = 1.0

#: The slash commands' actions that take text after the name, and what it is.
SLASH_ARGUMENTS = {"save_version": "NOTE", "rename": "TITLE", "copy": "[code]"}
#: What the actions no key does say in help and Tab completion; a key's tooltip says it
#: for the others, so that each command is worded once.
SLASH_ONLY = {
    "copy": "Copy the last reply, or with code its last code block",
    "retry": "Send your last message again for a new reply",
}

log = get_logger("chat")


class ChatScreen(Screen[None]):
    """One score's conversation. Holds no conversation logic: it renders engine events."""

    # No binding takes a key the prompt uses for editing text (Ctrl+Z, Ctrl+A, Ctrl+U,
    # Ctrl+E, Ctrl+K, Ctrl+W, Ctrl+Y...): every action works from the prompt. Each row
    # says whether the footer shows it and whether it comes before the focused widget's
    # own keys (priority); Esc does not, so that a focused widget that uses Esc keeps it.
    BINDINGS = [
        Binding("escape", "cancel_turn", "Stop", show=False, priority=False,
                tooltip="Stop the reply that is streaming; what it said so far is kept"),
        Binding("ctrl+o", "open_score", "Open score", show=True, priority=True,
                tooltip="Open another score of the workspace"),
        Binding("ctrl+n", "new_session", "New", show=True, priority=True,
                tooltip="Start a new session on this score"),
        Binding("ctrl+b", "browse", "Sessions", show=True, priority=True,
                tooltip="Browse and search every session, of every score"),
        Binding("ctrl+r", "undo", "Undo edit", show=True, priority=True,
                tooltip="Undo this session's last edit of the file"),
        Binding("ctrl+s", "save_version", "Save version", show=True, priority=True,
                tooltip="Save the file as a version to restore later"),
        Binding("f6", "toggle_view", "Diff/File", show=True, priority=True,
                tooltip="Show the changes since the session started, or the whole file"),
        Binding("ctrl+t", "redo", "Redo edit", show=False, priority=True,
                tooltip="Redo the edit just undone"),
        Binding("ctrl+g", "undo_all", "Undo all edits", show=False, priority=True,
                tooltip="Undo every edit of this session"),
        Binding("f2", "rename", "Rename session", show=False, priority=True,
                tooltip="Give this session a title"),
        Binding("f3", "versions", "Versions", show=False, priority=True,
                tooltip="List the file's saved versions and restore one"),
        Binding("f4", "switch_model", "Model", show=False, priority=True,
                tooltip="Choose the provider and the model"),
        Binding("f5", "export", "Export", show=False, priority=True,
                tooltip="Write this session to a Markdown or JSON file"),
        Binding("f7", "external_editor", "Open in $EDITOR", show=False, priority=True,
                tooltip="Edit the file in your editor; the diff follows"),
        Binding("f8", "delete_session", "Delete session", show=False, priority=True,
                tooltip="Delete this session and its messages; the file stays as it is"),
        Binding("f9", "toggle_sessions", "Sessions pane", show=False, priority=True,
                tooltip="Show or hide the sessions pane"),
        Binding("f10", "toggle_diff", "Diff pane", show=False, priority=True,
                tooltip="Show or hide the changes pane"),
        Binding("f12", "toggle_approval", "Approval mode", show=False, priority=True,
                tooltip="Apply the assistant's edits at once, or ask before each"),
    ]  # fmt: skip

    #: Slash commands typed in the prompt: name -> action. What each does is its key's
    #: tooltip (``slash_help``), or ``SLASH_ONLY`` for those no key does.
    SLASH = {
        "/undo": "undo",
        "/redo": "redo",
        "/undo-all": "undo_all",
        "/model": "switch_model",
        "/new": "new_session",
        "/clear": "new_session",
        "/save": "save_version",
        "/versions": "versions",
        "/export": "export",
        "/rename": "rename",
        "/approval": "toggle_approval",
        "/copy": "copy",
        "/retry": "retry",
        "/open": "open_score",
        "/sessions": "browse",
        "/help": "help",
        "/quit": "quit",
        "/exit": "quit",
    }

    def __init__(self) -> None:
        super().__init__()
        self.chat: ChatSession | None = None
        """The open session, or ``None`` before a score is chosen."""
        self._turn: Worker[None] | None = None
        self._known_text: str | None = None
        self._store_unreachable = False
        self._loading_page = False
        self._streaming: AssistantMessage | None = None
        self.opened_id: str | None = None
        """The id of the session once it is fully shown (its messages, diff and list)."""
        self._queued: list[str] = []
        """Messages sent while a reply streamed; sent in order when it ends."""
        self._typed = ""
        """The prompt's text as it last changed (read at quit, when no widget is left)."""
        self._kept = ""
        """The open session's draft as the store holds it."""
        self._typed_at = 0.0
        """When the prompt's text last changed (``time.monotonic()``; 0: keep it now)."""
        self._not_a_command: str | None = None
        """A ``/word`` just refused as no command: Enter on it again sends it as text."""

    @property
    def scorechat(self) -> ScoreChatApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Static("Sessions", id="sessions-title", classes="pane-title")
                yield SessionList(id="sessions")
            with Vertical(id="centre"):
                yield Conversation(id="conversation")
                yield WorkingIndicator(id="working")
                yield PromptInput(id="prompt")
            yield DiffPane(id="diff")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        # Sessions deleted or added by another instance or the CLI appear, and the
        # relative times stay true.
        self.set_interval(SESSIONS_REFRESH, self._refresh_sessions_when_idle)
        # One timer keeps the draft: a key only notes the text and the time.
        self.set_interval(DRAFT_DELAY / 2, self._keep_draft_when_idle)
        prompt = self.query_one(PromptInput)
        prompt.SLASH_COMMANDS = {
            name: f"{slash_usage(name)}  {what}"
            for name, what in slash_help([*self.BINDINGS, *self.app.BINDINGS]).items()
        }
        prompt.border_title = "Message · Enter send · Ctrl+J new line · ↑↓ history · / commands"
        conversation = self.query_one("#conversation", Conversation)
        conversation.border_title = "Conversation"
        conversation.last_input = lambda: prompt.last_key_at
        self._apply_width(self.size.width)
        self._update_status()

    def on_resize(self, event: object) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        narrow = width < NARROW_WIDTH
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.query_one("#left").display = not narrow
            self.query_one("#diff").display = not narrow

    # ---- opening sessions ----------------------------------------------------------------

    async def open_chat(self, chat: ChatSession, focus_message: int | None = None) -> None:
        """Show ``chat``: its latest messages (or from ``focus_message`` on, highlighted),
        its diff, the score's sessions."""
        if self._turn is not None and self._turn.is_running:
            self.notify("Stop the running turn first (Esc).", severity="warning")
            return
        await self._swap_drafts(chat)
        self.chat = chat
        self.query_one(StatusBar).context = None  # known again after this session's next turn
        await self._show_first_page(chat, focus_message)
        conversation = self.query_one(Conversation)
        self.sub_title = f"{chat.record.scorecard} / {chat.record.score}"
        # The open score stays in view at any size (the header and side panes may not be).
        conversation.border_title = Content(f"{chat.record.score} · {chat.record.scorecard}")
        self._update_status()
        await self.refresh_diff()
        await self.refresh_sessions()
        self.watch_score()
        self.query_one(PromptInput).focus()
        self.opened_id = chat.id

    async def _show_first_page(self, chat: ChatSession, focus_message: int | None) -> None:
        """The latest messages of ``chat`` (or from ``focus_message`` on, highlighted),
        scrolled to the end (or to that message)."""
        conversation = self.query_one(Conversation)
        await conversation.clear()
        messages = await chat.store.last_messages(chat.id, FIRST_PAGE)
        if focus_message is not None and messages and focus_message < messages[0].id:
            # A search hit older than the latest page: show from a little before it.
            older = await chat.store.last_messages(chat.id, 2, before_id=focus_message)
            start = older[0].id if older else focus_message
            messages = await chat.store.messages_from(chat.id, start)
        total = await chat.store.count_messages(chat.id)
        conversation.has_older = total > len(messages)
        if conversation.has_older:
            await conversation.add_notice(
                "▲ Older messages load when you scroll to the top.", "hint"
            )
        undone = {e.id for e in await chat.store.edits(chat.id) if e.undone}
        await conversation.show_messages(messages, undone=undone)
        if not messages:
            await self._empty_hint()
        found = conversation.message_widget(focus_message) if focus_message else None
        if found is not None:
            found.add_class("-found")
            self.call_after_refresh(conversation.scroll_to_widget, found, animate=False, top=True)
        else:
            conversation.scroll_end(animate=False)
            conversation.anchor()

    # ---- drafts: what was typed and not sent stays with its session -------------------

    async def _swap_drafts(self, chat: ChatSession) -> None:
        """Leaving a session keeps the prompt's text as its draft, and the session opened
        brings its own draft back. A session with nothing of its own (no message, no
        draft: a new one) takes the text along instead, and so does the first session
        opened after text was typed with no score open."""
        prompt = self.query_one(PromptInput)
        typed = prompt.text
        try:
            draft = await chat.store.draft(chat.id)
        except Exception:  # a draft is a convenience: it never stops a session opening
            log.exception("could not read the draft of session %s", chat.id)
            draft = ""
        leaving = self.chat if self.chat is not None and self.chat.id != chat.id else None
        takes_along = not draft and chat.record.message_count == 0
        if leaving is not None:
            await self._store_draft(leaving.id, "" if takes_along else typed)
        self._kept = draft
        if takes_along or (leaving is None and typed.strip()):
            self._typed, self._typed_at = typed, 0.0  # this session's draft from now on
            return
        if typed != draft:
            prompt.load_text(draft)
            prompt.move_cursor(prompt.document.end)
        self._typed = draft
        if draft and leaving is None:
            self.notify("Your unsent message is back in the prompt.")

    @on(PromptInput.Changed, "#prompt")
    def _prompt_changed(self, event: PromptInput.Changed) -> None:
        self._typed = event.text_area.text
        self._typed_at = time.monotonic()

    async def _keep_draft_when_idle(self) -> None:
        if self._typed != self._kept and time.monotonic() - self._typed_at >= DRAFT_DELAY:
            await self.keep_draft()

    async def keep_draft(self, *, quitting: bool = False) -> None:
        """Store the prompt's text as the open session's draft if it changed; on quitting,
        messages queued behind a running reply are kept too (they were never sent)."""
        if self.chat is None:
            return
        parts = [*self._queued, self._typed] if quitting else [self._typed]
        text = "\n\n".join(part for part in parts if part.strip())
        if text != self._kept:
            await self._store_draft(self.chat.id, text)

    async def _store_draft(self, session_id: str, text: str) -> None:
        if self.chat is None:
            return
        try:
            await self.chat.store.save_draft(session_id, text)
        except Exception:  # a draft is a convenience: it never takes the app down
            log.exception("could not keep the draft of session %s", session_id)
            return
        if session_id == self.chat.id:
            self._kept = text

    def set_prompt_history(self, history: list[str]) -> None:
        """Earlier prompts (kept across runs) for Up/Down in the prompt."""
        self.query_one(PromptInput).set_history(history)

    def provider_changed(self) -> None:
        """The app found (or lost) a model: redraw the status and an empty session's hint."""
        self._update_status()
        self.run_worker(self._refresh_hint(), group="hint", exclusive=True, exit_on_error=False)

    async def _refresh_hint(self) -> None:
        if self.chat is None or await self.chat.store.count_messages(self.chat.id):
            return
        if not self.is_attached:
            return  # the app closed while the store answered
        conversation = self.query_one(Conversation)
        await conversation.query(".notice").remove()
        await self._empty_hint()

    async def _empty_hint(self) -> None:
        conversation = self.query_one(Conversation)
        if self.scorechat.provider is None and self.scorechat.provider_checked:
            from engine.providers import HOW_TO_CONNECT  # deferred: after the first frame

            await conversation.add_notice(f"{HOW_TO_CONNECT} {NO_MODEL_KEYS}", "error")
        elif self.chat is not None:
            await conversation.add_notice(
                f"Ask anything about {self.chat.record.score}, or ask for a change, e.g. "
                "“raise the limit to 300” or “add a 'Refund Promise' class”.",
                "hint",
            )

    async def show_no_score(self) -> None:
        conversation = self.query_one(Conversation)
        await conversation.clear()
        await conversation.add_notice(
            f"No score is open: press {key_for('open_score')} to pick one.", "hint"
        )
        self.query_one(DiffPane).show(None)

    def _refresh_sessions_when_idle(self) -> None:
        if self.chat is not None and not (self._turn is not None and self._turn.is_running):
            self.run_worker(
                self._refresh_in_background(), group="sessions", exclusive=True,
                exit_on_error=False,
            )  # fmt: skip

    async def _refresh_in_background(self) -> None:
        """The timer's refresh: a store that stops answering (a shared database's server
        down) is said once, not every ten seconds, and its return is said too."""
        try:
            await self.refresh_sessions()
        except StoreError as exc:
            if not self._store_unreachable:
                self._store_unreachable = True
                self.notify(
                    f"{exc} The sessions pane refreshes when it answers again.",
                    severity="warning", timeout=15,
                )  # fmt: skip
            return
        if self._store_unreachable:
            self._store_unreachable = False
            self.notify("The database answers again.")

    async def refresh_sessions(self) -> None:
        if self.chat is None:
            return
        ref = await asyncio.to_thread(
            self.scorechat.workspace.ref_for, self.chat.path, self.chat.record.score
        )
        sessions = await self.chat.store.list_sessions(
            limit=SESSIONS_SHOWN,
            path=self.chat.record.path,
            score=self.chat.record.score if ref.entry else None,
            workspace=str(self.chat.workspace.root),
        )
        self.query_one(SessionList).show(sessions, self.chat.id)

    async def refresh_diff(self, external: bool = False) -> None:
        if self.chat is None:
            self.query_one(DiffPane).show(None)
            return
        state = await self.chat.file_state()
        # The watcher also sees this session's own writes, possibly before their
        # FileChanged event is drawn: only text no one here wrote is an outside change.
        if external and state.text in (
            self._known_text,
            self.chat.tool.last_known_text(state.path),
        ):
            self._known_text = state.text
            self.query_one(DiffPane).show(state)
            return
        if external:
            self.notify(f"{state.path} changed outside scorechat; the diff is updated.")
        self._known_text = state.text
        self.query_one(DiffPane).show(state)

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def watch_score(self) -> None:
        """Follow edits made by other programs (debounced by watchfiles)."""
        from engine.watcher import watch_file

        if self.chat is None:
            return
        async for _ in watch_file(self.chat.path):
            await self.refresh_diff(external=True)

    def _update_status(self) -> None:
        status = self.query_one(StatusBar)
        app = self.scorechat
        status.provider = app.provider.name if app.provider else ""
        status.model = app.provider.model if app.provider else ""
        if app.provider is None:
            status.connection = "no model" if app.provider_checked else "connecting"
        elif self._turn is not None and self._turn.is_running:
            status.connection = "working"
        else:
            status.connection = "ready"
        status.approval = app.approval
        if self.chat is not None:
            status.tokens_in = self.chat.record.input_tokens
            status.tokens_out = self.chat.record.output_tokens
            status.cost = self.chat.record.cost_usd

    # ---- sending -------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        command = text.strip()
        if command.startswith("/") and command != self._not_a_command:
            if self.run_slash(command):
                self.query_one(PromptInput).clear()
            else:
                self._not_a_command = command  # Enter again sends it as a message
            return
        self._not_a_command = None
        if self.chat is None:
            self.notify(f"Open a score first: {key_for('open_score')}.", severity="warning")
            return
        self.query_one(PromptInput).clear()
        self._typed, self._typed_at = "", 0.0  # sent: no longer a draft
        self.scorechat.remember_prompt(text)
        if self.scorechat.provider is None and self.scorechat.provider_checked:
            # No model yet: look once more before the send fails.
            await self.scorechat.try_connect(quiet=True)
        if self._turn is not None and self._turn.is_running:
            # Sent while a reply streams: queued, and sent when the reply ends.
            from engine.agent import make_title

            self._queued.append(text)
            await self.query_one(Conversation).add_notice(
                f"⏳ Queued: {make_title(text)} (sent when the reply ends; Esc drops it)",
                "hint",
            )
            return
        self._turn = self.run_turn(text)
        self._update_status()

    def run_slash(self, text: str) -> bool:
        """Run a slash command typed in the prompt (``/undo``, ``/save note``...).

        A first word that names no command (a typo, or a message about ``/etc/hosts``),
        or text after a command that takes none (``/quit`` and a pasted paragraph), runs
        nothing and is said; ``False`` then, and the text stays in the prompt.
        """
        name, argument = [*text.split(maxsplit=1), ""][:2]
        action = self.SLASH.get(name.lower())
        if action is None:
            close = difflib.get_close_matches(name.lower(), self.SLASH, n=1)
            guess = f" Did you mean {close[0]}?" if close else ""
            self.notify(
                f"Unknown command {name}.{guess} /help lists the commands; "
                "Enter again sends the text as a message.",
                severity="warning",
            )
            return False
        argument = argument.strip()
        if argument and action not in SLASH_ARGUMENTS:
            self.notify(
                f"{name} takes nothing after it, so nothing ran and the text stays. Delete "
                "what follows it to run it; Enter again sends the text as a message.",
                severity="warning",
            )
            return False
        if action == "help":
            self.scorechat.action_help()
        elif action == "quit":
            self.app.exit()
        elif action == "save_version":
            self.action_save_version(argument or None)
        elif action == "rename":
            self.action_rename(argument or None)
        elif action == "copy":
            self.action_copy(code=argument.lower().startswith("code"))
        else:
            getattr(self, f"action_{action}")()
        return True

    @on(PromptInput.Page)
    def _page(self, event: PromptInput.Page) -> None:
        conversation = self.query_one(Conversation)
        conversation.at_edge(event.direction)
        # At once, as a pager does: a key that animates for half a second feels slow.
        if event.direction < 0:
            conversation.scroll_page_up(animate=False)
        else:
            conversation.scroll_page_down(animate=False)

    @work(group="turn", exclusive=True, exit_on_error=False)
    async def run_turn(self, text: str) -> None:
        from engine import events as ev  # deferred, as in render_event

        assert self.chat is not None
        working = self.query_one(WorkingIndicator)
        conversation = self.query_one(Conversation)
        if conversation.has_newer:
            await self._show_latest()  # a reply goes below the latest messages
        working.begin()
        self.chat.provider = self.scorechat.provider
        yielded = time.monotonic()
        events = self.chat.send(text)
        stopped = False
        started = False
        try:
            async for event in events:
                stopped = stopped or isinstance(event, ev.TurnCancelled)
                started = started or isinstance(event, ev.TurnStarted)
                if not conversation.is_attached:
                    continue  # the app is quitting: the turn still saves what it has
                if isinstance(event, ev.TurnFailed) and not started:
                    # The message was never stored (a full disk, say): nothing typed is
                    # lost; it goes back into the prompt, with any queued behind it.
                    stopped = True
                    self._back_to_prompt([text, *self._queued])
                await self.render_event(event)
                # A fast stream can arrive with no real await in between: give keys and
                # repaints their turn at least every YIELD_INTERVAL.
                if time.monotonic() - yielded > YIELD_INTERVAL:
                    await asyncio.sleep(0)
                    yielded = time.monotonic()
        except asyncio.CancelledError:
            # Esc landed while an event was being drawn, or the app is quitting: the
            # turn still saves its reply.
            stopped = True
            final = await self.chat.settle_cancelled(events)
            if final is not None and conversation.is_attached:
                await self.render_event(final)
        except Exception:
            # Drawing failed (a bug: the app's handler reports it): the turn ends here,
            # keeping what its reply had as interrupted instead of leaving it open.
            await events.aclose()
            raise
        finally:
            if conversation.is_attached:
                await self._turn_ended(stopped)

    async def _turn_ended(self, stopped: bool) -> None:
        """The screen after a turn: the reply adopted from the record, the status and the
        sessions pane brought up to date, and queued messages sent."""
        assert self.chat is not None
        working = self.query_one(WorkingIndicator)
        conversation = self.query_one(Conversation)
        working.end()
        await conversation.finish_assistant()
        # What the turn drew is on record now: it can be let go and loaded again.
        latest = await self.chat.store.last_messages(self.chat.id, 1)
        if latest:
            conversation.adopt_live(latest[-1].id)
        self._update_status()
        await self.refresh_sessions()
        # Queued messages go out after a reply that ended; after one that was
        # stopped they are back in the prompt (Esc) or kept as the draft (a quit).
        if self._queued and not stopped:
            self.call_later(self._send_queued)

    def _send_queued(self) -> None:
        if self._queued and self.chat is not None and not (self._turn and self._turn.is_running):
            self._turn = self.run_turn(self._queued.pop(0))
            self._update_status()

    async def render_event(self, event: ev.Event) -> None:
        # Imported here, not with the screen: the events' dataclasses cost about 10 ms
        # to build, which the first frame need not wait for.
        from engine import events as ev

        conversation = self.query_one(Conversation)
        working = self.query_one(WorkingIndicator)
        if isinstance(event, ev.TextDelta):
            widget = await conversation.assistant(event.message_id)
            self._streaming = widget
            await widget.write(event.text)
            working.tokens += 1
            working.label = "Writing"
        elif isinstance(event, ev.ThinkingDelta):
            await conversation.thinking(event.message_id, event.text)
            working.label = "Thinking"
        elif isinstance(event, ev.TurnStarted):
            await conversation.add_user(event.text)
            conversation.scroll_end(animate=False)
            conversation.anchor()
        elif isinstance(event, ev.ToolCallStarted):
            await conversation.finish_assistant()
            await conversation.add_tool_call(event)
            working.label = f"Running {event.command}"
        elif isinstance(event, ev.ToolResult):
            conversation.set_tool_result(event)
            working.label = "Thinking"
        elif isinstance(event, ev.FileChanged):
            await self.refresh_diff()
        elif isinstance(event, ev.Usage):
            self.query_one(StatusBar).cached = event.cache_read_tokens
            if event.context_window:
                self.query_one(StatusBar).context = event.context_tokens / event.context_window
            self._update_status()
        elif isinstance(event, ev.Retrying):
            if self._streaming is not None:
                await self._streaming.reset()
            await conversation.add_notice(
                f"↻ {event.reason}; retrying in {event.wait:.0f}s (attempt {event.attempt}).",
                "warning",
            )
        elif isinstance(event, ev.Notice):
            await conversation.add_notice(event.text, "info")
        elif isinstance(event, ev.TurnFailed):
            await conversation.finish_assistant("error")
            await conversation.add_notice(f"✗ {event.message}", "error")
        elif isinstance(event, ev.TurnCancelled):
            await conversation.finish_assistant("interrupted")
            await conversation.add_notice("■ Stopped. The partial reply is kept.", "warning")
        elif isinstance(event, ev.TurnDone):
            await conversation.finish_assistant()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.scorechat.worker_changed(event.worker)
        self._update_status()

    def action_cancel_turn(self) -> None:
        if self._queued:
            # Nothing typed is lost: queued messages go back into the prompt.
            self._back_to_prompt(self._queued)
            self.notify("The queued message was not sent; it is back in the prompt.")
        if self.chat is not None and self._turn is not None and self._turn.is_running:
            self.chat.cancel()

    def _back_to_prompt(self, texts: list[str]) -> None:
        """Messages not sent, back into the prompt above what it holds; none stay queued."""
        prompt = self.query_one(PromptInput)
        prompt.load_text("\n\n".join([*texts, prompt.text]).strip())
        prompt.move_cursor(prompt.document.end)  # typing goes on after it
        self._queued.clear()

    # ---- approval (ask mode) -------------------------------------------------------------

    async def approve(self, proposal: ProposedEdit) -> str | None:
        from engine.diffing import unified_diff
        from tui.screens.modals import ApprovalModal

        # A whole rewrite of a big score takes a while to diff: not on the UI's thread.
        diff = await asyncio.to_thread(
            unified_diff, proposal.before or "", proposal.after or "", proposal.path
        )
        result = await self.app.push_screen_wait(ApprovalModal(proposal, diff))
        if result.apply:
            return None
        return result.reason or ""

    # ---- actions -------------------------------------------------------------------------

    def action_open_score(self) -> None:
        self.scorechat.action_open_score()

    def action_browse(self) -> None:
        self.scorechat.action_browse()

    @work(group="action", exit_on_error=False)
    async def action_new_session(self) -> None:
        if self.chat is None:
            self.scorechat.action_open_score()
            return
        ref = self.scorechat.workspace.ref_for(self.chat.path, self.chat.record.score)
        await self.scorechat.start_session(ref)

    @work(group="action", exit_on_error=False)
    async def action_undo(self) -> None:
        """Undo this session's newest edit; never another session's, the CLI's or a restore."""
        from engine.diffing import unified_diff
        from engine.editor_tool import ChangedSinceError
        from tui.screens.modals import DiscardModal

        if not self._idle("undo"):
            return
        assert self.chat is not None
        try:
            result = await self.chat.undo_edit()
        except ChangedSinceError as changed:
            diff = await asyncio.to_thread(
                unified_diff, changed.current or "", changed.target or "", changed.rel
            )
            ok = await self.app.push_screen_wait(
                DiscardModal(
                    f"{changed.rel} was changed after this session's edit (by you, another "
                    "program or another session). Undoing the edit now also throws away "
                    "those later changes:",
                    diff,
                )
            )
            if not ok:
                self.notify("Cancelled: nothing was undone.")
                return
            result = await self.chat.undo_edit(force=True)
        self.notify(result.text)
        self.query_one(Conversation).mark_undone(result.edit_id, True)
        await self.refresh_diff()

    @work(group="action", exit_on_error=False)
    async def action_copy(self, code: bool = False) -> None:
        """Copy the last reply (or its last code block) to the clipboard (OSC 52)."""
        if self.chat is None:
            return
        replies = [
            m for m in await self.chat.store.last_messages(self.chat.id, 50)
            if m.role == "assistant" and m.text.strip()
        ]  # fmt: skip
        if not replies:
            self.notify("There is no reply to copy yet.", severity="warning")
            return
        text = replies[-1].text
        if code:
            blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL)
            if not blocks:
                self.notify("The last reply has no code block.", severity="warning")
                return
            text = blocks[-1]
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(text)} characters to the clipboard.")

    @work(group="action", exit_on_error=False)
    async def action_retry(self) -> None:
        """Regenerate: send the last message again, for a new reply."""
        if not self._idle("regenerate the reply"):
            return
        assert self.chat is not None
        users = [
            m for m in await self.chat.store.last_messages(self.chat.id, 50) if m.role == "user"
        ]
        if not users:
            self.notify("There is no message to send again.", severity="warning")
            return
        self._turn = self.run_turn(users[-1].text)
        self._update_status()

    @work(group="action", exit_on_error=False)
    async def action_redo(self) -> None:
        if not self._idle("redo"):
            return
        assert self.chat is not None
        result = await self.chat.redo_edit()
        self.notify(result.text)
        self.query_one(Conversation).mark_undone(result.edit_id, False)
        await self.refresh_diff()

    @work(group="action", exit_on_error=False)
    async def action_undo_all(self) -> None:
        from tui.screens.modals import ConfirmModal

        if not self._idle("undo"):
            return
        assert self.chat is not None
        edits = await self.chat.store.edits(self.chat.id, include_undone=False)
        if not edits:
            self.notify("This session has no edits to undo.")
            return
        files = sorted({e.path.rsplit("/", 1)[-1] for e in edits})
        ok = await self.app.push_screen_wait(
            ConfirmModal(
                f"Undo all {len(edits)} edits this session made to {', '.join(files)}? "
                "Edits made elsewhere are kept.",
                "Undo all",
            )
        )
        if not ok:
            self.notify("Cancelled.")
            return
        report = await self.chat.undo_all()
        self.notify(report.text, severity="error" if report.stopped else "information")
        conversation = self.query_one(Conversation)
        for edit in await self.chat.store.edits(self.chat.id):
            conversation.mark_undone(edit.id, edit.undone)
        await self.refresh_diff()

    @work(group="action", exit_on_error=False)
    async def action_save_version(self, note: str | None = None) -> None:
        from engine.versions import save_version
        from tui.screens.modals import TextModal

        if self.chat is None:
            self.notify(f"Open a score first: {key_for('open_score')}.", severity="warning")
            return
        if note is None:
            note = await self.app.push_screen_wait(
                TextModal("Save this version of the score. Note (optional):", allow_empty=True)
            )
        if note is None:
            self.notify("Cancelled.")
            return
        try:
            version = await save_version(
                self.chat.store, self.scorechat.workspace, self.chat.record.path,
                note=note, session_id=self.chat.id,
            )  # fmt: skip
        except ScoreChatError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Saved version {version.id}.")

    @work(group="action", exit_on_error=False)
    async def action_versions(self) -> None:
        from engine.versions import restore_version
        from tui.screens.modals import ChoiceModal, ConfirmModal
        from tui.timefmt import relative_time

        if self.chat is None or not self._idle("restore a version"):
            return
        versions = await self.chat.store.list_versions(self.chat.record.path)
        choices = [
            (str(v.id), f"#{v.id}  {relative_time(v.created_at)}  {v.note or '(no note)'}")
            for v in versions
        ]
        chosen = await self.app.push_screen_wait(
            ChoiceModal(f"Versions of {self.chat.record.score} (Enter restores)", choices,
                        f"Enter to restore · Esc to close · {key_for('save_version')} saves a new version")
        )  # fmt: skip
        if chosen is None:
            return
        ok = await self.app.push_screen_wait(
            ConfirmModal(
                f"Restore version {chosen}? It can be undone with {key_for('undo')}.", "Restore"
            )
        )
        if not ok:
            self.notify("Cancelled.")
        else:
            try:
                message = await restore_version(
                    self.chat.store, self.scorechat.workspace, int(chosen), session_id=self.chat.id
                )
                self.notify(message)
            except ScoreChatError as exc:
                self.notify(str(exc), severity="error")
            await self.refresh_diff()

    @work(group="action", exit_on_error=False)
    async def action_rename(self, title: str | None = None) -> None:
        from tui.screens.modals import TextModal

        if self.chat is None:
            return
        if title is None:
            title = await self.app.push_screen_wait(
                TextModal("Rename the session:", self.chat.record.title)
            )
        if title is None:
            self.notify("Cancelled.")
        elif title:
            await self.chat.store.rename_session(self.chat.id, title)
            await self.chat.refresh()
            await self.refresh_sessions()
            self.notify("Session renamed.")

    @work(group="action", exit_on_error=False)
    async def action_delete_session(self) -> None:
        from tui.screens.modals import ConfirmModal

        if self.chat is None or not self._idle("delete"):
            return
        ok = await self.app.push_screen_wait(
            ConfirmModal(
                f"Delete the session “{self.chat.record.title or 'untitled'}” and its messages? "
                "The score file keeps its current text.",
                "Delete",
            )
        )
        if not ok:
            self.notify("Cancelled.")
            return
        ref = self.scorechat.workspace.ref_for(self.chat.path, self.chat.record.score)
        await self.chat.store.delete_session(self.chat.id)
        self.notify("Session deleted.")
        self.chat = None
        await self.scorechat.start_session(ref)

    @work(group="action", exit_on_error=False)
    async def action_export(self) -> None:
        if self.chat is not None:
            await self.scorechat.export_session(self.chat.id)

    @work(group="action", exit_on_error=False)
    async def action_switch_model(self) -> None:
        await self.scorechat.choose_model()
        self._update_status()

    def action_toggle_view(self) -> None:
        self.query_one(DiffPane).toggle()

    def action_toggle_sessions(self) -> None:
        pane = self.query_one("#left")
        pane.display = not pane.display

    def action_toggle_diff(self) -> None:
        pane = self.query_one("#diff")
        pane.display = not pane.display

    def action_toggle_approval(self) -> None:
        app = self.scorechat
        app.approval = "ask" if app.approval == "auto" else "auto"
        if self.chat is not None:
            self.chat.tool.approver = self.approve if app.approval == "ask" else None
        self.notify(
            "Edits now wait for your approval."
            if app.approval == "ask"
            else f"Edits now apply at once (undo with {key_for('undo')})."
        )
        self._update_status()

    def action_external_editor(self) -> None:
        if self.chat is None:
            return
        editor = (os.environ.get("VISUAL") or os.environ.get("EDITOR") or "").strip() or "vi"
        path = self.chat.path
        failed: str | None = None
        try:
            command = [*shlex.split(editor), str(path)]
            with self.app.suspend():
                # Nothing may escape this block: Textual resumes the app only when the
                # block ends normally, and would otherwise leave the terminal suspended.
                try:
                    code = subprocess.call(command)
                except OSError as exc:
                    failed = exc.strerror or str(exc)
                else:
                    failed = f"it exited with code {code}" if code else None
        except Exception as exc:  # an EDITOR shlex cannot split, or no suspend here
            failed = str(exc) or type(exc).__name__
        if failed is not None:
            self.notify(f"The editor {editor!r} did not run cleanly: {failed}.", severity="error")
        self.run_worker(self.refresh_diff(), group="diff", exit_on_error=False)

    def _idle(self, what: str) -> bool:
        if self.chat is None:
            self.notify(f"Open a score first: {key_for('open_score')}.", severity="warning")
            return False
        if self._turn is not None and self._turn.is_running:
            self.notify(
                f"Wait for the turn to finish (or press Esc) before you {what}.", severity="warning"
            )
            return False
        return True

    # ---- the session list and older messages ---------------------------------------------

    @on(SessionList.Resume)
    def _resume(self, event: SessionList.Resume) -> None:
        if self.chat is not None and event.session_id == self.chat.id:
            self.query_one(PromptInput).focus()
            return
        self.resume(event.session_id)

    @work(group="resume", exclusive=True, exit_on_error=False)
    async def resume(self, session_id: str) -> None:
        """Resume a session from the list; one that vanished is said so, and the list redrawn."""
        if self.chat is not None and await self.chat.store.get_session(session_id) is None:
            self.notify("That session no longer exists: it was deleted.", severity="warning")
            await self.refresh_sessions()
            return
        await self.scorechat.resume_session(session_id)

    @on(Conversation.LoadPage)
    async def _load_page(self, event: Conversation.LoadPage) -> None:
        """The next page above (older) or below what is shown; what is read stays put."""
        older = event.older
        conversation = self.query_one(Conversation)
        edge = conversation.oldest_id if older else conversation.newest_id
        more = conversation.has_older if older else conversation.has_newer
        if self.chat is None or self._loading_page or edge is None or not more:
            return
        self._loading_page = True
        try:
            store = self.chat.store
            if older:
                page = await store.last_messages(self.chat.id, OLDER_PAGE, before_id=edge)
                conversation.has_older = len(page) == OLDER_PAGE
                await conversation.query(".notice.-hint").remove()
            else:
                page = await store.messages_from(self.chat.id, edge + 1, limit=OLDER_PAGE)
                conversation.has_newer = len(page) == OLDER_PAGE
                conversation.newest_id = page[-1].id if page and conversation.has_newer else None
            keep = _first_in_view(conversation)
            undone = {e.id for e in await store.edits(self.chat.id) if e.undone}
            await conversation.show_messages(page, older=older, undone=undone)
            # What is far from the page just shown goes (and loads again when reached).
            await conversation.release(newest=older)
            _hold_in_view(conversation, keep)
        finally:
            self._loading_page = False

    async def _show_latest(self) -> None:
        """The latest page again, as when the session opened (before a new turn)."""
        if self.chat is not None:
            await self._show_first_page(self.chat, None)


def _first_in_view(conversation: Conversation) -> tuple[Widget, int] | None:
    """The first child on screen and how far below the top of the view it starts."""
    top = conversation.scroll_y
    for child in conversation.children:
        region = child.virtual_region
        if region.bottom > top:
            return child, int(region.y - top)
    return None


def _hold_in_view(conversation: Conversation, keep: tuple[Widget, int] | None) -> None:
    """Once laid out, scroll so that ``keep`` is where it was on screen. (Scheduled, not
    awaited: the screen runs its after-refresh callbacks only between its messages.)"""
    if keep is None:
        return
    child, offset = keep

    def scroll() -> None:
        if child.is_attached:
            conversation.scroll_to(
                y=max(child.virtual_region.y - offset, 0), animate=False, immediate=True
            )

    conversation.call_after_refresh(scroll)


def slash_usage(name: str) -> str:
    """How a slash command is typed: ``/save NOTE``, ``/undo``."""
    action = ChatScreen.SLASH[name]
    return f"{name} {SLASH_ARGUMENTS[action]}" if action in SLASH_ARGUMENTS else name


def slash_help(bindings: Iterable[Binding | tuple[str, ...]]) -> dict[str, str]:
    """What each slash command does: its key's tooltip and the key, from ``bindings``
    (``/save`` -> "Save the file as a version to restore later · Ctrl+S"), or its
    ``SLASH_ONLY`` words when no key does it."""
    keyed = {b.action: b for b in bindings if isinstance(b, Binding)}
    described: dict[str, str] = {}
    for name, action in ChatScreen.SLASH.items():
        binding = keyed.get(action)
        if binding is None:
            described[name] = SLASH_ONLY[action]
        else:
            described[name] = f"{binding.tooltip} · {key_name(binding.key)}"
    return described


def key_for(action: str) -> str:
    """The key bound to ``action`` as a sentence names it (``Ctrl+R``), read from the
    bindings so that no message names a key the screen does not bind."""
    key = next(b.key for b in ChatScreen.BINDINGS if isinstance(b, Binding) and b.action == action)
    return key_name(key)


#: Keys whose names a sentence spells otherwise than ``str.capitalize`` does.
KEY_NAMES = {"escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn"}


def key_name(key: str) -> str:
    """A binding's (first) key as a sentence or the help names it: ``Ctrl+R``, ``F6``."""
    return "+".join(_key_part(part) for part in key.split(",")[0].split("+"))


def _key_part(part: str) -> str:
    if part in KEY_NAMES:
        return KEY_NAMES[part]
    if len(part) == 1 or re.fullmatch(r"f\d+", part):
        return part.upper()
    return part.capitalize()


def default_export_path(session_id: str, fmt: str) -> Path:
    return Path.cwd() / f"scorechat-{session_id}.{fmt}"
