"""``make bench``: every figure of the performance targets, measured on the real app.

Prints one JSON object (median, min and max of each figure over the runs, the CPU
count, Python and Textual versions) and rewrites docs/performance.md.
``--quick`` runs each benchmark once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import datasets
from benchmarks.pty import App, scorechat_bin

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """One figure of the report, as benchmarks/figures.toml declares it (its fields are
    explained at the top of that file)."""

    what: str
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    floor: str | None = None
    ratio_target: float | None = None
    no_floor: str | None = None
    floor_name: str | None = None


def load_figures(path: Path = ROOT / "benchmarks" / "figures.toml") -> dict[str, Figure]:
    """Every figure, in the order of the report."""
    with path.open("rb") as fh:
        return {name: Figure(**table) for name, table in tomllib.load(fh).items()}


FIGURES = load_figures()


class Env:
    """The data every benchmark shares, built once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workspace = datasets.build_workspace(root / "workspace")
        self.db = datasets.build_database(root / "bench.db")
        from engine.workspace import Workspace

        first = Workspace(self.workspace).scores()[0]
        self.score, self.scorecard, self.rel_path = first.score, first.scorecard, first.rel_path
        self.long_session = datasets.add_long_session(
            self.db, first.scorecard, first.score, first.rel_path
        )
        self.very_long_session = datasets.add_long_session(
            self.db, first.scorecard, first.score, first.rel_path, messages=10_000,
            tool_calls=500, sid="longsession10k",
        )  # fmt: skip
        busy = Workspace(self.workspace).scores()[1]
        self.busy_score = (busy.scorecard, busy.score)
        datasets.add_score_sessions(self.db, busy.scorecard, busy.score, busy.rel_path)
        from tests.fakes.ollama_server import OllamaFake

        self.ollama = OllamaFake().start()
        from benchmarks import postgres

        self._cleanup = contextlib.ExitStack()
        # The same sessions and messages in a PostgreSQL database (None: no server).
        self.pg_url = self._cleanup.enter_context(postgres.database(copy_from=self.db))

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "SCORECHAT_HOME": str(self.root / "home"),
            "SCORECHAT_WORKSPACE": str(self.workspace),
            "SCORECHAT_DB": str(self.db),
            "OLLAMA_HOST": self.ollama.url,
            **extra,
        }

    def close(self) -> None:
        self.ollama.stop()
        self._cleanup.close()


# ---- floors: the same measurements of what scorechat cannot be faster than -----------------------


def startup_floor(env: Env) -> dict[str, float]:
    """A bare Textual app drawing one Static, launched and asked for F1 like scorechat."""
    import sys

    from benchmarks.pty import App as Pty

    app = Pty([], env.env(), command=[sys.executable, str(ROOT / "benchmarks" / "floor_app.py")])
    try:
        app.wait_for(b"Conversation")
        app.send("\x1bOP")
        app.wait_for(b"scorechat keys")
        return {"seconds": time.perf_counter() - app.started, "rss": app.peak_rss_mib()}
    finally:
        app.close()


def interpreter_floor() -> float:
    """``python -c pass``: starting the interpreter at all."""
    import subprocess
    import sys

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def command_start(env: Env) -> float:
    """``scorechat sessions list --limit 1`` on the benchmark database, until it exits: what
    every headless command (and each ``scorechat message``) pays before its own work."""
    import os
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [scorechat_bin(), "sessions", "list", "--limit", "1"],
        env={**os.environ, **env.env()},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def streaming_floor(env: Env, tokens: int) -> float:
    """The loopback server's own time to send a reply of ``tokens`` (read by a bare client)."""
    import httpx

    body = {"model": "qwen3:8b", "stream": True,
            "messages": [{"role": "user", "content": f"write {tokens} tokens"}]}  # fmt: skip
    started = time.perf_counter()
    with (
        httpx.Client(timeout=60, trust_env=False) as client,
        client.stream("POST", env.ollama.url + "/api/chat", json=body) as response,
    ):
        for _ in response.iter_bytes():
            pass
    return time.perf_counter() - started


def key_echo_floor(env: Env) -> float:
    """Twenty keys typed into a bare Textual app's focused Input, each until drawn: p95."""
    import sys

    from benchmarks.pty import App as Pty

    command = [sys.executable, str(ROOT / "benchmarks" / "floor_app.py"), "--input"]
    app = Pty([], env.env(), command=command, cols=160, rows=45)
    try:
        app.wait_for(b"Ask anything")
        time.sleep(0.3)
        while app.drain(0.05):
            pass
        return _p95(_typed(app, "ЖЩЮБДФЦЧШЭЯЛПИГКМНРТ", gap=0.05))
    finally:
        app.close()


def _typed(app: App, marks: str, gap: float, seen: list[bytes] | None = None) -> list[float]:
    """Each mark typed, timed until it is drawn (ms)."""
    latencies = []
    for mark in marks:
        pressed = app.send(mark)
        app.wait_for(mark.encode(), timeout=30, seen=seen)
        latencies.append((time.perf_counter() - pressed) * 1000)
        time.sleep(gap)
    return latencies


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


SEARCHES = [
    "refund", "threshold classifier", "greet", "compliance disclosure", "callback",
    "payment arrangement", "identity", "escal", "valid classes", "recorded line",
] * 4  # fmt: skip


def engine_floors(env: Env) -> dict[str, float]:
    """What the engine figures cannot be faster than, measured on the same data: bare
    queries, a plain filter, the YAML parser's own event stream, the broker's round trip."""
    import sqlite3

    from engine.sqlite_store import fts_query
    from engine.workspace import Workspace
    from engine.yaml_text import _fast_yaml
    from tests.fakes.scripts import big_score
    from tests.service.redis_helpers import redis_answers

    out: dict[str, float] = {}
    db = sqlite3.connect(env.db)
    times = []
    for query in SEARCHES:
        t = time.perf_counter()
        db.execute(
            "SELECT rowid, snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts"
            " WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT 50",
            (fts_query(query),),
        ).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    out["floor_fts_p95_ms"] = _p95(times)
    t = time.perf_counter()
    db.execute(
        "SELECT id, title, scorecard, score, updated_at FROM sessions"
        " ORDER BY updated_at DESC, id LIMIT 50 OFFSET 500"
    ).fetchall()
    out["floor_page_ms"] = (time.perf_counter() - t) * 1000
    db.close()

    async def older_page() -> float:
        from engine.store import Store

        async with await Store.open(env.db) as store:
            newest = await store.last_messages(env.long_session, 1)
            t = time.perf_counter()
            await store.last_messages(env.long_session, 30, before_id=newest[0].id - 300)
            return (time.perf_counter() - t) * 1000

    out["floor_older_page_ms"] = asyncio.run(older_page())
    names = [f"{r.scorecard} / {r.score}".lower() for r in Workspace(env.workspace).scores()]
    worst, typed = 0.0, ""
    for key in "sentiment 07":
        typed += key
        t = time.perf_counter()
        [name for name in names if typed in name]
        worst = max(worst, (time.perf_counter() - t) * 1000)
    out["floor_filter_ms"] = worst
    text = big_score(1000)
    t = time.perf_counter()
    for _ in _fast_yaml().parse(text):
        pass
    out["floor_yaml_events_ms"] = (time.perf_counter() - t) * 1000
    if redis_answers():
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        trips = []
        for _ in range(100):
            t = time.perf_counter()
            client.ping()
            trips.append((time.perf_counter() - t) * 1000)
        client.close()
        out["floor_redis_rtt_ms"] = _p95(trips)
    return out


# ---- the app in a pseudo-terminal ---------------------------------------------------------------


def first_frame(env: Env, anthropic: bool = False) -> dict[str, float]:
    extra = (
        {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
        if anthropic
        else {}
    )
    args = ["--provider", "anthropic"] if anthropic else []
    # With no score the picker opens over the chat screen; F1 answers on both.
    app = App(args, env.env(**extra))
    try:
        app.wait_for(b"Conversation")
        sent = app.send("\x1bOP")  # F1
        app.wait_for(b"scorechat keys")
        answered = time.perf_counter() - app.started
        return {
            "seconds": answered,
            "key_ms": (time.perf_counter() - sent) * 1000,
            "rss": app.peak_rss_mib(),
        }
    finally:
        app.close()


def streaming(env: Env, tokens: int, measure_keys: bool = False) -> dict[str, float]:
    app = App(
        [
            "--scorecard",
            env.scorecard,
            "--score",
            env.score,
            "--provider",
            "ollama",
            "--model",
            "qwen3:8b",
        ],
        env.env(),
        cols=160,
        rows=45,
    )
    try:
        app.wait_for(b"Ask anything")
        time.sleep(0.3)
        while app.drain(0.05):
            pass
        # Typed, then Enter on its own, as a person sends: an Enter in the same burst of
        # keys as the text waits a moment for the rest of a paste.
        app.send(f"write {tokens} tokens")
        while app.drain(0.05):
            pass
        cpu_before = app.cpu_seconds()
        sent = app.send("\r")
        latencies: list[float] = []
        seen: list[bytes] = []
        if measure_keys:
            app.wait_for(b"Paragraph", timeout=30)
            # Twenty keys typed while the reply streams, as a person types a next message.
            latencies = _typed(app, "ЖЩЮБДФЦЧШЭЯЛПИГКМНРТ", gap=0.05, seen=seen)
        if b"END-OF-REPLY" not in b"".join(seen):
            app.wait_for(b"END-OF-REPLY", timeout=300)
        done = time.perf_counter()
        # The turn is over when the app is idle again; CPU is counted to here.
        time.sleep(0.3)
        cpu = app.cpu_seconds() - cpu_before
        result = {"seconds": done - sent, "cpu": cpu}
        if latencies:
            result["key_ms"] = _p95(latencies)
            result["key_p50_ms"] = statistics.median(latencies)
            result["all_keys"] = latencies
        return result
    finally:
        app.close()


def typing_beside_many_sessions(env: Env, keys: int = 40, gap: float = 0.3) -> dict[str, float]:
    """Keys typed into the prompt of a score with 2,000 sessions, slowly enough (12 s) to
    live through the side pane's refresh (every 10 s), each timed until it is drawn."""
    scorecard, score = env.busy_score
    app = App(["--scorecard", scorecard, "--score", score], env.env(), cols=160, rows=45)
    try:
        app.wait_for(b"Ask anything")
        time.sleep(0.5)
        while app.drain(0.05):
            pass
        marks = "ЖЩЮБДФЦЧШЭЯЛПИГКМНРТ"
        latencies = _typed(app, (marks * (keys // len(marks) + 1))[:keys], gap=gap)
        return {"p95": _p95(latencies), "p50": statistics.median(latencies), "max": max(latencies)}
    finally:
        app.close()


def scroll_to_top(env: Env, session: str) -> dict[str, float]:
    """Every older page of ``session``, in a process of its own (its RSS is the app's)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scroll_session", session],
        env={**os.environ, **env.env()}, cwd=ROOT, capture_output=True, text=True,
        timeout=1800,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"scrolling {session} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def long_session(env: Env, session: str = "") -> dict[str, float]:
    """From the first frame of the app (launched on the session) until its last message
    is on screen: the process start and first frame are measured by ``first_frame``."""
    app = App(["--session", session or env.long_session], env.env())
    try:
        frame = app.wait_for(b"Conversation", timeout=60)
        opened = app.wait_for(b"LAST-MESSAGE-MARK", timeout=60)
        return {"seconds": opened - frame, "total": opened, "rss": app.peak_rss_mib()}
    finally:
        app.close()


# ---- in-process engine figures ------------------------------------------------------------------


async def store_timings(location: str | Path) -> dict[str, float]:
    """The 40 searches (p95) and a session page on the store at ``location``."""
    from engine.store import Store

    async with await Store.open(location) as store:
        times = []
        for query in SEARCHES:
            t = time.perf_counter()
            await store.search(query, limit=50)
            times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await store.list_sessions(limit=50, offset=500)
        page = (time.perf_counter() - t) * 1000
    return {"fts_p95_ms": _p95(times), "page_ms": page}


def picker_timing(env: Env) -> float:
    """The picker's filter over the 500 scores, worst keystroke (ms)."""
    from engine.workspace import Workspace
    from tui.screens.picker import filter_scores

    refs = Workspace(env.workspace).scores()
    worst, typed = 0.0, ""
    for key in "sentiment 07":
        typed += key
        t = time.perf_counter()
        filter_scores(refs, typed)
        worst = max(worst, (time.perf_counter() - t) * 1000)
    return worst


_EDITS = iter(range(10**6))


async def edit_path(env: Env) -> dict[str, float]:
    """A fresh edit each run (no parse is reused across runs); the session baseline is
    parsed once beforehand, as opening the session's diff pane does."""
    from engine.diffing import changed_key_paths, unified_diff
    from engine.editor_tool import EditorTool
    from engine.yaml_text import load_plain
    from tests.fakes.scripts import big_score

    folder = env.root / "edit"
    (folder / "Card").mkdir(parents=True, exist_ok=True)
    path = folder / "Card" / "Big.yaml"
    path.write_text(big_score(1000))
    baseline = path.read_text()
    load_plain(baseline)
    run = next(_EDITS)
    tool = EditorTool(folder)
    t = time.perf_counter()
    await tool.run({"command": "view", "path": "Card/Big.yaml", "view_range": [2400, 2440]})
    result = await tool.run(
        {
            "command": "str_replace",
            "path": "Card/Big.yaml",
            "old_str": f"      Prompt number {500 + run}.",
            "new_str": f"      Prompt {run} reworded.",
        }
    )
    unified_diff(baseline, result.after or "")
    changed_key_paths(baseline, result.after or "")
    edit_ms = (time.perf_counter() - t) * 1000
    assert not result.is_error, result.text
    t = time.perf_counter()
    undo = await tool.run({"command": "undo_edit", "path": "Card/Big.yaml"})
    undo_ms = (time.perf_counter() - t) * 1000
    assert not undo.is_error
    return {"edit_ms": edit_ms, "undo_ms": undo_ms}


async def persistence(env: Env) -> dict[str, float]:
    """The same 8,000-token streamed turn with and without saving while streaming."""
    import engine.agent as agent
    from engine.agent import ChatSession
    from engine.providers.scripted import ScriptedProvider
    from engine.settings import load_settings
    from engine.store import Store
    from engine.workspace import Workspace
    from tests.fakes.brain import markdown_tokens

    reply = markdown_tokens(8000)
    settings = load_settings(
        home=env.root / "home", workspace=env.workspace, db_path=env.root / "persist.db"
    )
    store = await Store.open(settings.database)
    ws = Workspace(settings.workspace)
    ref = ws.resolve_score(env.score, env.scorecard)
    timings = {}
    try:
        for label, interval in (("without", 1e9), ("with", 0.25)):
            agent.PERSIST_INTERVAL = interval
            best = float("inf")
            for _ in range(3):
                provider = ScriptedProvider([[{"type": "text", "text": reply}]])
                chat = await ChatSession.start(
                    store=store, workspace=ws, settings=settings, provider=provider, score=ref
                )
                t = time.perf_counter()
                async for _event in chat.send("write"):
                    await asyncio.sleep(0.0002)  # a front end's share of each token
                best = min(best, time.perf_counter() - t)
            timings[label] = best
    finally:
        agent.PERSIST_INTERVAL = 0.25
        await store.close()
    return {
        "overhead_pct": max((timings["with"] - timings["without"]) / timings["without"] * 100, 0.0),
        "with_s": timings["with"],
        "without_s": timings["without"],
    }


async def prompt_cache(env: Env) -> dict[str, float]:
    """Ten turns with an edit each against the loopback Anthropic server, which splits
    the prompt the way the API bills it: what one turn costs in input tokens, with the
    stable prefix cached and without."""
    from engine.agent import ChatSession
    from engine.providers.anthropic import AnthropicProvider
    from engine.settings import load_settings
    from engine.store import Store
    from engine.workspace import Workspace
    from tests.fakes.anthropic_server import AnthropicFake
    from tests.fakes.steps import Step

    billed: dict[bool, float] = {}
    for cache in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "ws"
            shutil.copytree(ROOT / "data" / "scorecards", root)
            settings = load_settings(home=Path(tmp) / "home", workspace=root)
            store = await Store.open(settings.database)
            with AnthropicFake() as server:
                provider = AnthropicProvider(
                    "claude-sonnet-4-6", api_key="test-key", base_url=server.url, cache=cache
                )
                ws = Workspace(root)
                chat = await ChatSession.start(
                    store=store, workspace=ws, settings=settings, provider=provider,
                    score=ws.resolve_score("greeting"),
                )  # fmt: skip
                for turn in range(10):
                    old, new = f"limit: {100 + turn}", f"limit: {101 + turn}"
                    call = {"name": "", "input": {"command": "str_replace", "path":
                            "Customer Service QA/Greeting.yaml", "old_str": old, "new_str": new}}  # fmt: skip
                    server.queue(Step(tool_calls=[call]), Step(text="Done."))
                    async for _ in chat.send(f"raise the limit to {101 + turn}"):
                        pass
                await provider.aclose()
                usage = server.usage_log
            await store.close()
        billed[cache] = sum(u["input"] + 1.25 * u["write"] + 0.1 * u["read"] for u in usage) / 10
    return {"cached": billed[True], "uncached": billed[False]}


# ---- running and reporting ----------------------------------------------------------------------


def collect(env: Env, runs: int, log: Callable[[str], None]) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name in FIGURES}
    for run in range(runs):
        log(f"run {run + 1}/{runs}")
        figures["floor_interpreter_s"].append(interpreter_floor())
        figures["command_start_s"].append(command_start(env))
        floor = startup_floor(env)
        figures["floor_startup_s"].append(floor["seconds"])
        figures["floor_startup_rss_mib"].append(floor["rss"])
        figures["floor_stream_2000_s"].append(streaming_floor(env, 2000))
        figures["floor_stream_8000_s"].append(streaming_floor(env, 8000))
        figures["floor_key_echo_ms"].append(key_echo_floor(env))
        for name, value in engine_floors(env).items():
            figures[name].append(value)
        ff = first_frame(env)
        figures["first_frame_s"].append(ff["seconds"])
        figures["first_frame_rss_mib"].append(ff["rss"])
        figures["first_frame_anthropic_s"].append(first_frame(env, anthropic=True)["seconds"])
        s2 = streaming(env, 2000)
        figures["stream_2000_s"].append(s2["seconds"])
        figures["stream_2000_cpu_s"].append(s2["cpu"])
        s8 = streaming(env, 8000)
        figures["stream_8000_s"].append(s8["seconds"])
        figures["stream_8000_cpu_s"].append(s8["cpu"])
        # Keys in a run of their own: while keys arrive the reply waits (input first),
        # which would lengthen the reply's own figures.
        typed = streaming(env, 8000, measure_keys=True)
        figures["key_latency_during_stream_ms"].append(typed["key_ms"])
        figures["key_p50_during_stream_ms"].append(typed["key_p50_ms"])
        busy = typing_beside_many_sessions(env)
        figures["key_latency_many_sessions_ms"].append(busy["p95"])
        figures["key_max_many_sessions_ms"].append(busy["max"])
        ls = long_session(env)
        figures["long_session_open_s"].append(ls["seconds"])
        figures["long_session_rss_mib"].append(ls["rss"])
        huge = long_session(env, env.very_long_session)
        figures["very_long_session_open_s"].append(huge["seconds"])
        figures["very_long_over_long_open"].append(huge["seconds"] / ls["seconds"])
        pages = scroll_to_top(env, env.long_session)
        figures["older_page_p95_ms"].append(pages["page_p95_ms"])
        figures["older_page_p50_ms"].append(pages["page_p50_ms"])
        if run == 0:  # 350 pages: once per benchmark
            top = scroll_to_top(env, env.very_long_session)
            figures["very_long_rss_at_top_mib"].append(top["peak_rss_mib"])
            figures["very_long_pages"].append(top["pages"])
        sl = asyncio.run(store_timings(env.db))
        figures["fts_p95_ms"].append(sl["fts_p95_ms"])
        figures["sessions_page_ms"].append(sl["page_ms"])
        figures["picker_filter_ms"].append(picker_timing(env))
        if env.pg_url:
            pg = asyncio.run(store_timings(env.pg_url))
            figures["pg_fts_p95_ms"].append(pg["fts_p95_ms"])
            figures["pg_sessions_page_ms"].append(pg["page_ms"])
        ep = asyncio.run(edit_path(env))
        figures["edit_path_ms"].append(ep["edit_ms"])
        figures["undo_ms"].append(ep["undo_ms"])
        figures["persistence_overhead_pct"].append(asyncio.run(persistence(env))["overhead_pct"])
        pc = asyncio.run(prompt_cache(env))
        figures["billed_input_per_turn_cached"].append(pc["cached"])
        figures["billed_input_per_turn_uncached"].append(pc["uncached"])
        from benchmarks.service import service_figures

        for name, value in service_figures(env.root / f"service-run{run}", env.ollama.url).items():
            figures[name].append(value)
        if env.pg_url:
            from benchmarks import postgres
            from benchmarks.service import service_postgres_figures

            with postgres.database() as url:
                assert url is not None
                measured = service_postgres_figures(
                    env.root / f"service-pg-{run}", env.ollama.url, url
                )
            for name, value in measured.items():
                figures[name].append(value)
    return {name: values for name, values in figures.items() if values}


def summarise(figures: dict[str, list[float]], runs: int) -> dict[str, Any]:
    import textual

    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "textual": textual.__version__,
            "platform": platform.platform(),
        },
        "runs": runs,
        "figures": {},
    }
    for name, values in figures.items():
        figure = FIGURES[name]
        median = statistics.median(values)
        floor = figures.get(figure.floor or "", [])
        ratio = (
            statistics.median(v / f for v, f in zip(values, floor, strict=False) if f)
            if floor
            else None
        )
        out["figures"][name] = {
            "median": round(median, 4),
            "min": round(min(values), 4),
            "max": round(max(values), 4),
            "unit": figure.unit,
            "floor": figure.floor,
            "ratio_to_floor": round(ratio, 3) if ratio is not None else None,
            "ratio_target": figure.ratio_target,
            "target": figure.target,
            "met": _met(figure, median, ratio),
        }
    return out


def _met(figure: Figure, median: float, ratio: float | None) -> bool | None:
    """Whether the figure holds its target (its ratio target, when it has one)."""
    if figure.ratio_target is not None and ratio is not None:
        return ratio <= figure.ratio_target
    if figure.target is None:
        return None
    return median >= figure.target if figure.higher_is_better else median <= figure.target


def ratio_text(name: str, figure: dict[str, Any]) -> str:
    """The ratio column: the ratio and its floor, or why the figure has none."""
    if name.startswith("floor_"):
        return "floor"
    if FIGURES[name].no_floor:
        return f"({FIGURES[name].no_floor})"
    ratio, floor = figure.get("ratio_to_floor"), figure.get("floor")
    if ratio is None:
        return "- (floor not measured)"
    return f"{ratio:.2f}x {FIGURES[floor].floor_name or floor}"


def print_table(summary: dict[str, Any]) -> None:
    """Each figure with its median, floor and ratio, one line each (on stderr)."""
    import sys

    for name, figure in summary["figures"].items():
        unit = figure["unit"]
        print(
            f"[bench] {name:<34} {figure['median']:>10.4g} {unit:<6} {ratio_text(name, figure)}",
            file=sys.stderr,
        )


def write_report(summary: dict[str, Any], path: Path) -> None:
    machine = summary["machine"]
    rows = []
    for name, figure in summary["figures"].items():
        unit, what = figure["unit"], FIGURES[name].what
        if figure["target"] is None:
            target, met = f"({unit})", "-"
        else:
            sign = ">=" if FIGURES[name].higher_is_better else "<="
            target = f"{sign} {figure['target']:g} {unit}"
            met = "yes" if figure["met"] else "**no**"
        if figure.get("ratio_target") is not None:
            target = f"<= {figure['ratio_target']:g}x the floor"
        rows.append(
            f"| {what} | {ratio_text(name, figure)} | "
            f"{figure['median']:.3g} | {figure['min']:.3g} | {figure['max']:.3g} | "
            f"{target} | {met} |"
        )
    marker = "<!-- figures -->"
    table = "\n".join(
        [
            marker,
            f"Last run: {time.strftime('%Y-%m-%d')}, {summary['runs']} run(s), {machine['cpus']} CPUs, "
            f"Python {machine['python']}, Textual {machine['textual']}.",
            "",
            "| figure | ratio to its floor | median | min | max | target | met |",
            "|---|---|---|---|---|---|---|",
            *rows,
            marker,
        ]
    )
    text = path.read_text() if path.exists() else f"# Performance\n\n{marker}\n{marker}\n"
    start, end = text.find(marker), text.rfind(marker)
    if start == -1 or start == end:
        text = text.rstrip() + "\n\n" + table + "\n"
    else:
        text = text[:start] + table + text[end + len(marker) :]
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description="scorechat benchmarks")
    parser.add_argument("--quick", action="store_true", help="one run of each, for smoke checks")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--no-report", action="store_true", help="do not rewrite docs/performance.md"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else max(args.runs, 1)
    root = Path(tempfile.mkdtemp(prefix="scorechat-bench-"))
    log = lambda message: print(f"[bench] {message}", file=__import__("sys").stderr, flush=True)  # noqa: E731
    log("building 50 scorecards / 500 scores and 2,000 sessions / 100,000 messages")
    env = Env(root)
    try:
        summary = summarise(collect(env, runs, log), runs)
    finally:
        env.close()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    print_table(summary)
    if not args.no_report:
        write_report(summary, ROOT / "docs" / "performance.md")


if __name__ == "__main__":
    main()
