"""The scorechat App: built from settings and engine services by one factory.

The first frame never waits on a model, a query or an SDK import: the screen is
drawn first, then the store, the provider and the session load in workers.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from engine.errors import ScoreChatError
from engine.logs import get_logger
from engine.settings import Settings
from tui.control_codes import show_control_codes
from tui.screens.chat import (
    NO_MODEL_KEYS,
    SLASH_ONLY,
    ChatScreen,
    default_export_path,
    key_name,
    slash_usage,
)

log = get_logger("app")
show_control_codes()

#: With no model, how soon the app looks again, and the longest wait between looks.
PROBE_FIRST_DELAY = 2.0
PROBE_MAX_DELAY = 30.0
#: How often the app looks whether its terminal is still there (seconds).
TERMINAL_CHECK_INTERVAL = 1.0
#: Seconds the app may take to quit after its terminal went away before it is ended.
HANG_UP_GRACE = 8.0
#: The same notification again this soon (seconds) is not stacked under the first, which
#: is still shown: two paths that meet one failure (a redo, then the diff's refresh
#: after it) say it once.
REPEAT_WINDOW = 2.0


if TYPE_CHECKING:
    from engine.providers import Provider
    from engine.store import Store
    from engine.workspace import ScoreRef, Workspace


class ScoreChatApp(App[int]):
    """Chat with an assistant about one score; every edit is a live, undoable diff."""

    CSS_PATH = "app.tcss"
    TITLE = "scorechat"
    BINDINGS = [
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            priority=True,
            tooltip="Quit; a streaming reply is kept as far as it got",
        ),
        Binding("f1", "help", "Help", priority=True, tooltip="Every key and slash command"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        provider: Provider | None = None,
        choose_provider_automatically: bool = True,
        score: ScoreRef | None = None,
        scorecard: str | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        """Everything the app was configured with."""
        from engine.workspace import Workspace

        self.workspace: Workspace = Workspace(settings.workspace)
        """The score files."""
        self.store: Store | None = store
        """The database; opened in a worker when not passed in."""
        self._owns_store = store is None
        self.provider: Provider | None = provider
        """The model provider, or ``None`` when no model is available."""
        self.provider_checked = provider is not None or not choose_provider_automatically
        """True once the provider choice is known (so 'no model' can be said)."""
        self._choose = choose_provider_automatically and provider is None
        self._terminal_lent = False
        """True while another program (the F7 editor) has the terminal."""
        self._last_notice: tuple[str, str, float] = ("", "", 0.0)
        """The last notification shown: its message, title and time."""
        self.approval = settings.approval
        """``auto`` or ``ask``."""
        self.initial_score = score
        self.initial_scorecard = scorecard
        self.initial_session = session_id
        self.chat_screen = ChatScreen()

    # ---- start-up ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(self.chat_screen)
        self.start_up()
        self.watch_terminal()
        if self.settings.samples_copied:
            self.notify(
                f"First run: the sample scorecards were copied to {self.workspace.root}. "
                "Point --workspace (or SCORECHAT_WORKSPACE) at your own scorecards folder.",
                timeout=20,
            )

    def watch_terminal(self) -> None:
        """Quit (as Ctrl+Q does, keeping a partial reply) when the terminal goes away.

        A closed terminal sends SIGHUP; under ``nohup`` or a parent that ignores it, the
        signal never comes and the terminal's input only reports a hang-up, which Textual's
        input thread would poll forever at full speed. Both are watched.
        """
        if self.is_headless:
            return
        fd = terminal_input_fd()
        if fd is None:
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hang_up)
            self.app_suspend_signal.subscribe(self, self._lend_terminal, immediate=True)
            self.app_resume_signal.subscribe(self, self._take_terminal_back, immediate=True)
            guard_resume(fd, lambda: self._terminal_lent)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no SIGHUP on this platform: the poll still works
        self.set_interval(TERMINAL_CHECK_INTERVAL, partial(self._check_terminal, fd))

    def _lend_terminal(self, _app: object) -> None:
        self._terminal_lent = True  # App.suspend: another program has the terminal

    def _take_terminal_back(self, _app: object) -> None:
        self._terminal_lent = False

    def _check_terminal(self, fd: int) -> None:
        if terminal_hung_up(fd):
            self._hang_up()

    def _hang_up(self) -> None:
        log.info("the terminal went away; quitting")
        # Textual's shutdown flushes what it still has to draw into the dead terminal
        # and can wait on that forever (seen on a loaded machine): once everything of
        # ours has closed, the process must end anyway.
        threading.Thread(target=_end_if_stuck, args=(HANG_UP_GRACE,), daemon=True).start()
        self.exit(0)

    @work(group="startup", exit_on_error=False)
    async def start_up(self) -> None:
        from engine.store import Store

        try:
            if self.store is None:
                self.store = await Store.open(self.settings.database)
        except ScoreChatError as exc:
            self.notify(str(exc), severity="error", timeout=30)
            return
        history = await self.store.prompt_history()
        self.chat_screen.set_prompt_history(history)
        if self._choose:
            self.connect_provider()
        try:
            if self.initial_session:
                await self.resume_session(self.initial_session)
            elif self.initial_score is not None:
                await self.start_session(self.initial_score)
            else:
                await self.chat_screen.show_no_score()
                self.action_open_score(self.initial_scorecard)
        except ScoreChatError as exc:
            self.notify(str(exc), severity="error", timeout=15)

    @work(group="provider", exclusive=True, exit_on_error=False)
    async def connect_provider(self) -> None:
        """Choose a provider; with none, keep probing cheaply (backing off) until one answers."""
        delay = PROBE_FIRST_DELAY
        warned = False
        while True:
            if await self.try_connect(quiet=warned):
                return
            warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, PROBE_MAX_DELAY)

    async def try_connect(self, *, quiet: bool = False) -> bool:
        """One attempt to choose a provider; says what happened unless ``quiet``."""
        from engine.providers import choose_provider

        try:
            provider = await choose_provider(self.settings)
        except ScoreChatError as exc:
            first = not self.provider_checked
            self.provider = None
            self.provider_checked = True
            if not quiet:
                self.notify(f"{exc} {NO_MODEL_KEYS}", severity="warning", timeout=15)
            if first:
                self.chat_screen.provider_changed()
            return False
        was_missing = self.provider is None and self.provider_checked
        self.provider = provider
        self.provider_checked = True
        log.info("provider chosen: %s · %s", provider.name, provider.model)
        if self.chat_screen.chat is not None:
            self.chat_screen.chat.set_provider(provider)
        if was_missing:
            self.notify(f"Connected: {provider.name} · {provider.model} now answers.")
        self.chat_screen.provider_changed()
        if provider.warm_import:
            self.warm_sdk(provider.warm_import)
        self.warm_rendering()
        return True

    @work(thread=True, group="warm-render", exclusive=True, exit_on_error=False)
    def warm_rendering(self) -> None:
        """Load what drawing a reply needs (Rich's Markdown, the code highlighter and its
        lexers) off the event loop, so the first reply's first blocks do not stall keys."""
        from tui.widgets.conversation import warm_markdown

        warm_markdown()

    @work(thread=True, group="warm", exit_on_error=False)
    def warm_sdk(self, module: str) -> None:
        """Import a provider's SDK off the event loop so the first reply does not wait."""
        import importlib

        importlib.import_module(module)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications carry paths, errors and model text: never parsed as markup.
        One that repeats the last within ``REPEAT_WINDOW`` is not shown again."""
        now = time.monotonic()
        last_message, last_title, last_at = self._last_notice
        if (message, title) == (last_message, last_title) and now - last_at < REPEAT_WINDOW:
            return
        self._last_notice = (message, title, now)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ---- failures, in one place -----------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_changed(event.worker)

    def worker_changed(self, worker: Worker[object]) -> None:
        """Every screen forwards its workers' state here: a failure is said, never fatal."""
        if worker.state == WorkerState.ERROR and worker.error is not None:
            self.report_error(worker.error)

    def report_error(self, error: BaseException) -> None:
        """A ``ScoreChatError`` is its own sentence; anything else is logged with its
        traceback and shown as one sentence, and the app keeps running."""
        if isinstance(error, ScoreChatError):
            self.notify(str(error), severity="error", timeout=10)
            return
        log.error("unexpected error", exc_info=(type(error), error, error.__traceback__))
        where = f" The details are in {self.settings.log_dir / 'scorechat.log'}."
        self.notify(
            f"Something went wrong ({type(error).__name__}: {error}).{where}",
            severity="error",
            timeout=15,
        )

    # ---- sessions ------------------------------------------------------------------------

    def _approver(self):  # type: ignore[no-untyped-def]
        return self.chat_screen.approve if self.approval == "ask" else None

    async def start_session(self, ref: ScoreRef, *, reuse_empty: bool = True) -> None:
        """Open a new session on ``ref``; an untouched empty session of it is reused."""
        from engine.turns import open_chat

        assert self.store is not None
        if reuse_empty:
            latest = await self.store.list_sessions(
                limit=1,
                path=ref.rel_path,
                score=ref.score if ref.entry else None,  # one of a scorecard file's scores
                workspace=str(self.workspace.root),
            )
            if latest and latest[0].message_count == 0 and latest[0].status == "active":
                if self.chat_screen.chat is not None and self.chat_screen.chat.id == latest[0].id:
                    self.notify("This session is new already: type a message to start.")
                    return
                await self.resume_session(latest[0].id)
                return
        chat = await open_chat(
            self.store, self.workspace, self.settings, self.provider, score=ref,
            approver=self._approver(),
        )  # fmt: skip
        await self.chat_screen.open_chat(chat)

    async def resume_session(self, session_id: str, focus_message: int | None = None) -> None:
        from engine.turns import open_chat

        assert self.store is not None
        chat = await open_chat(
            self.store, self.workspace, self.settings, self.provider, session_id=session_id,
            approver=self._approver(),
        )  # fmt: skip
        if not chat.path.exists():
            self.notify(
                f"{chat.record.path} no longer exists; the session is read-only until it is back.",
                severity="warning",
            )
        await self.chat_screen.open_chat(chat, focus_message=focus_message)

    def remember_prompt(self, text: str) -> None:
        if self.store is not None:
            self.run_worker(self.store.add_prompt(text), group="history", exit_on_error=False)

    # ---- actions -------------------------------------------------------------------------

    @work(group="picker", exclusive=True, exit_on_error=False)
    async def action_open_score(self, query: str | None = None) -> None:
        from tui.screens.picker import PickerScreen

        try:
            refs = await asyncio.to_thread(self.workspace.scores)  # hundreds of files: off the loop
        except ScoreChatError as exc:
            self.notify(str(exc), severity="error")
            return
        if not refs:
            self.notify(
                f"No scores in {self.workspace.root}: add <Scorecard>/<Score>.yaml files.",
                severity="warning",
            )
            return
        picker = PickerScreen(refs, self.workspace.root.name)
        ref = await self.push_screen_wait(picker)
        if ref is not None:
            try:
                await self.start_session(ref)
            except ScoreChatError as exc:
                self.notify(str(exc), severity="error")

    @work(group="browser", exclusive=True, exit_on_error=False)
    async def action_browse(self) -> None:
        from tui.screens.sessions import SessionsScreen

        if self.store is None:
            return
        scores: dict[str, list[str]] = {}
        try:
            for ref in await asyncio.to_thread(self.workspace.scores):
                scores.setdefault(ref.scorecard, []).append(ref.score)
        except ScoreChatError:
            pass
        result = await self.push_screen_wait(SessionsScreen(self.store, scores))
        if result is not None:
            await self.resume_session(result.session_id, focus_message=result.message_id)
            return
        # Sessions may have been deleted or renamed in the browser.
        chat = self.chat_screen.chat
        if chat is not None and await self.store.get_session(chat.id) is None:
            self.notify("The open session was deleted; a new one is open on the same score.")
            await self.start_session(self.workspace.ref_for(chat.path, chat.record.score))
        else:
            await self.chat_screen.refresh_sessions()

    def action_help(self) -> None:
        from tui.screens.modals import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        # A key's row names the slash commands that do the same; the others follow.
        typed: dict[str, list[str]] = {}
        for name, action in ChatScreen.SLASH.items():
            typed.setdefault(action, []).append(slash_usage(name))
        rows: list[tuple[str, str, str]] = []
        for binding in [*ChatScreen.BINDINGS, *self.BINDINGS]:
            if isinstance(binding, Binding):
                keys = ", ".join(key_name(k) for k in binding.key.split(","))
                also = typed.pop(binding.action, [])
                what = binding.tooltip + (f" ({', '.join(also)})" if also else "")
                rows.append((keys, binding.description, what))
        rows.append(("Ctrl+P", "Palette", "Every action by name"))
        rows.append(("PgUp, PgDn", "Scroll", "Scroll the conversation, from the prompt"))
        rows.append(("Tab", "Complete", "Complete a slash command in the prompt"))
        for action, usages in typed.items():  # the slash commands no key does
            rows.extend((usage, "", SLASH_ONLY[action]) for usage in usages)
        rows.append(("workspace", "", str(self.workspace.root)))
        rows.append(("database", "", self.settings.database_label))
        rows.append(("log", "", str(self.settings.log_dir / "scorechat.log")))
        self.push_screen(HelpScreen(rows))

    async def export_session(self, session_id: str) -> None:
        from engine.export import session_to_json, session_to_markdown, write_export
        from tui.screens.modals import ChoiceModal, TextModal

        assert self.store is not None
        fmt = await self.push_screen_wait(
            ChoiceModal(
                "Export the session as", [("md", "Markdown (.md)"), ("json", "JSON (.json)")]
            )
        )
        if fmt is None:
            self.notify("Cancelled.")
            return
        target = await self.push_screen_wait(
            TextModal("Write the export to:", str(default_export_path(session_id, fmt)))
        )
        if not target:
            self.notify("Cancelled.")
            return
        session = await self.store.find_session(session_id)
        messages, edits = await self.store.messages(session.id), await self.store.edits(session.id)
        text = (session_to_markdown if fmt == "md" else session_to_json)(session, messages, edits)
        path = Path(target).expanduser()
        try:
            await asyncio.to_thread(write_export, path, text)
        except ScoreChatError as exc:  # already a sentence that names the file
            self.notify(f"Nothing was exported. {exc}", severity="error")
            return
        except OSError as exc:  # a disk that is full, a device that refuses
            reason = (exc.strerror or type(exc).__name__).lower()
            self.notify(
                f"Nothing was exported: {path} could not be written ({reason}).", severity="error"
            )
            return
        self.notify(f"Exported to {path}.")

    async def choose_model(self) -> None:
        """List the models of every usable provider; switch to the chosen one."""
        from engine.providers import ModelInfo, make_provider, ollama_capabilities, ollama_models
        from tui.screens.modals import ChoiceModal

        choices: list[tuple[str, str]] = []
        models = await ollama_models(self.settings.ollama_host)
        abilities = await ollama_capabilities(self.settings.ollama_host, models or [])
        for name in models or []:
            info = abilities.get(name)
            how = info.label() if info is not None else ""
            choices.append((f"ollama\t{name}", f"ollama · {name}{how}"))
        if self.settings.anthropic_api_key:
            from engine.providers.anthropic import ADAPTIVE_THINKING, AnthropicProvider

            listing = AnthropicProvider(
                api_key=self.settings.anthropic_api_key, base_url=self.settings.anthropic_base_url
            )
            try:
                names = await listing.list_models()
            except ScoreChatError:
                names = [listing.model]
            finally:
                await listing.aclose()
            for name in names:
                window = AnthropicProvider(name, api_key="-").context_window
                thinks = name.startswith(ADAPTIVE_THINKING)
                how = ModelInfo(("tools", "thinking") if thinks else ("tools",), window).label()
                choices.append((f"anthropic\t{name}", f"anthropic · {name}{how}"))
        if self.settings.script is not None:
            choices.append(("scripted\t", f"scripted · {self.settings.script.name} (demo)"))
        if not choices:
            self.notify(
                "No provider answers: start Ollama or set ANTHROPIC_API_KEY.", severity="warning"
            )
            return
        current = None
        if self.provider is not None:
            keys = {key for key, _ in choices}
            mine = (f"{self.provider.name}\t{self.provider.model}", f"{self.provider.name}\t")
            current = next((key for key in mine if key in keys), None)
        chosen = await self.push_screen_wait(
            ChoiceModal("Choose a model", choices, current=current)
        )
        if chosen is None:
            self.notify("Cancelled.")
            return
        name, model = chosen.split("\t", 1)
        try:
            provider = make_provider(self.settings, name, model or None)
        except ScoreChatError as exc:
            self.notify(str(exc), severity="error")
            return
        if self.provider is not None:
            await self.provider.aclose()
        self.provider = provider
        self.provider_checked = True
        if self.chat_screen.chat is not None:
            self.chat_screen.chat.set_provider(provider)
            await self.chat_screen.chat.store.update_session(
                self.chat_screen.chat.id, provider=provider.name, model=provider.model
            )
        if provider.warm_import:
            self.warm_sdk(provider.warm_import)
        self.notify(f"Now using {provider.name} · {provider.model}.")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, then every binding of the chat screen and the app.

        Derived from the bindings, so the palette, the footer and help never disagree.
        """
        yield from super().get_system_commands(screen)
        chat = self.chat_screen
        for binding in [*ChatScreen.BINDINGS, *self.BINDINGS]:
            if not isinstance(binding, Binding) or binding.action == "quit":
                continue
            target = chat if binding in ChatScreen.BINDINGS else self
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} · {key_name(binding.key)}",
                partial(target.run_action, binding.action),
            )

    async def on_unmount(self) -> None:
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        if self.provider is not None:
            try:
                await self.provider.aclose()
            except Exception:
                pass
        try:
            await self.chat_screen.keep_draft(quitting=True)
        except Exception:
            log.exception("could not keep the unsent text at quit")
        if self.store is not None and self._owns_store:
            await self.store.close()


def build_app(
    settings: Settings,
    *,
    store: Store | None = None,
    provider: Provider | None = None,
    score: ScoreRef | None = None,
    scorecard: str | None = None,
    session_id: str | None = None,
) -> ScoreChatApp:
    """The one factory the CLI and the tests use."""
    from engine.providers import make_provider

    if provider is None and settings.provider == "scripted":
        provider = make_provider(settings, "scripted")
    return ScoreChatApp(
        settings, store=store, provider=provider, score=score, scorecard=scorecard,
        session_id=session_id,
    )  # fmt: skip


def terminal_input_fd() -> int | None:
    """The terminal the app reads keys from, or ``None`` when input is not a terminal."""
    stream = sys.__stdin__
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError):
        return None
    return fd if fd >= 0 and os.isatty(fd) else None


def _end_if_stuck(grace: float) -> None:
    """Runs in a daemon thread after a hang-up: when the process is still here after
    ``grace`` seconds, its shutdown is stuck writing to the dead terminal; end it (the
    store commits every write as it goes, so nothing is lost)."""
    time.sleep(grace)
    log.warning(
        "the app did not finish quitting %ss after its terminal went away; ending it", grace
    )
    os._exit(0)


def guard_resume(fd: int, lent: Callable[[], bool]) -> None:
    """Re-enter application mode on SIGCONT only when it was left, and only once.

    Textual's driver answers every SIGCONT by entering application mode again, though
    only a SIGCONT after its SIGTSTP (Ctrl+Z, ``kill -TSTP``) follows its leaving it:
    any other one (a stray ``kill -CONT``, the SIGCONT that comes with a terminal's
    hang-up) started a second output thread, and the quit then waited for ever for
    room in the first one's queue (after a hang-up, one quit in five until
    ``_end_if_stuck`` ended it). Now: after Textual's own suspension, it resumes as
    before; with the terminal gone, or lent to another program (``lent()``, the F7
    editor), nothing is done; when a shell took the terminal back while the process
    was stopped (``kill -STOP``, then ``fg``), application mode is left cleanly and
    entered afresh; otherwise (the terminal as the app left it) nothing is done.
    """
    from textual.driver import Driver

    suspend = signal.getsignal(signal.SIGTSTP)
    resume = signal.getsignal(signal.SIGCONT)
    if not callable(suspend) or not callable(resume):
        return
    driver = getattr(resume, "__self__", None)
    suspended = False

    def afresh(signum: int) -> None:
        if isinstance(driver, Driver):
            driver.suspend_application_mode()
            resume(signum, None)

    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None

    def on_suspend(signum: int, frame: FrameType | None) -> None:
        nonlocal suspended
        suspended = True
        suspend(signum, frame)  # leaves application mode, then stops the process

    def on_continue(signum: int, frame: FrameType | None) -> None:
        nonlocal suspended
        if terminal_hung_up(fd) or lent():
            return
        if suspended:
            suspended = False
            resume(signum, frame)
        elif not terminal_is_raw(fd):
            # From the event loop, not inside whatever this signal interrupted (a
            # write holding the output queue's lock, say).
            if loop is not None:
                loop.call_soon_threadsafe(afresh, signum)
            else:
                afresh(signum)

    signal.signal(signal.SIGTSTP, on_suspend)
    signal.signal(signal.SIGCONT, on_continue)


def terminal_is_raw(fd: int) -> bool:
    """True while the terminal behind ``fd`` reads keys one by one (as the app set it)."""
    import termios

    try:
        return not termios.tcgetattr(fd)[3] & termios.ICANON
    except termios.error:
        return False


def terminal_hung_up(fd: int) -> bool:
    """True once the terminal behind ``fd`` has hung up (reading nothing from it)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)  # hang-up, error and closed are always reported
    try:
        events = poller.poll(0)
    except OSError:
        return True
    return any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events)


def tune_garbage_collection() -> None:
    """Keep the collector's pauses out of the way of keys.

    A long reply makes many small objects (strips, segments, styles); a full collection
    walking them with everything imported at start-up took 50-130 ms on a small machine,
    a visible freeze. What exists at start-up is frozen out of collection (it lives as
    long as the app), and full collections come less often.
    """
    import gc

    gc.freeze()
    gc.set_threshold(2_000, 20, 20)


def run_app(
    settings: Settings,
    *,
    score: ScoreRef | None = None,
    scorecard: str | None = None,
    session_id: str | None = None,
) -> int:
    # The log file is set up with the settings (``tui.launch.Context``).
    app = build_app(settings, score=score, scorecard=scorecard, session_id=session_id)
    tune_garbage_collection()
    code = app.run()
    return code or 0
