"""The service benchmark: 40 chats x 3 messages through 1, 2 and 4 worker processes.

Real ``scorechat worker`` processes on the machine's Redis (a database number of its
own), the loopback Ollama server as the model, 2,000-token replies. Each chat is a
client thread sending its three messages one after another (as a dashboard would);
all 40 chats run at once. Figures: messages per second, p50/p95 from ``send_task``
to the result, and the broker's overhead per message against the same turn run
in-process (``engine.service.handle_message``, what ``scorechat message`` runs).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.service.redis_helpers import flush_db, redis_answers

ROOT = Path(__file__).resolve().parent.parent
DB_NUMBER = 8
CHATS, MESSAGES = 40, 3
REPLY = "write 2000 tokens"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


class _Fleet:
    """Worker processes on one broker, workspace and store."""

    def __init__(
        self, root: Path, model_url: str, broker: str, database: str | None = None
    ) -> None:
        self.root, self.broker = root, broker
        self.workspace = root / "workspace"
        shutil.copytree(ROOT / "data" / "scorecards", self.workspace)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SCORECHAT_", "OLLAMA_"))},
            "PYTHONPATH": str(ROOT), "SCORECHAT_HOME": str(root / "home"),
            "SCORECHAT_WORKSPACE": str(self.workspace), "SCORECHAT_PROVIDER": "ollama",
            "OLLAMA_HOST": model_url, "SCORECHAT_BROKER_URL": broker,
            **({"SCORECHAT_DB": database} if database else {}),
        }  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, processes: int) -> None:
        log = self.root / f"worker-{processes}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "worker", "-c", str(processes), "-l", "warning",
             "-n", f"bench{processes}@%h"],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )  # fmt: skip
        from celery import Celery

        app = Celery(broker=self.broker, backend=self.broker)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5, limit=1):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the worker did not start: {log.read_text()[-2000:]}")
        # Let every pool process come up before timing.
        time.sleep(1.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _run_chats(broker: str, prefix: str) -> tuple[float, list[float]]:
    from celery import Celery

    app = Celery(broker=broker, backend=broker)

    def chat(n: int) -> list[float]:
        latencies = []
        for m in range(MESSAGES):
            kwargs: dict[str, Any] = {"chat_id": f"{prefix}-{n}", "message": f"{REPLY} ({m})"}
            if m == 0:
                kwargs.update(scorecard="Customer Service QA", score="Greeting")
            started = time.perf_counter()
            result = app.send_task("scorechat.message", kwargs=kwargs).get(timeout=600)
            latencies.append(time.perf_counter() - started)
            if "error" in result:
                raise RuntimeError(result["error"])
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(CHATS) as pool:
        per_chat = list(pool.map(chat, range(CHATS)))
    return time.perf_counter() - started, [x for chat_ in per_chat for x in chat_]


_IN_PROCESS = """
import asyncio, json, sys, time
from engine.service import handle_message
from engine.settings import load_settings
settings = load_settings()
times = []
for n in range(int(sys.argv[1])):
    kwargs = {"chat_id": f"local-{n}", "message": sys.argv[2],
              "scorecard": "Customer Service QA", "score": "Greeting"}
    started = time.perf_counter()
    result = asyncio.run(handle_message(settings, kwargs))
    times.append(time.perf_counter() - started)
    assert "error" not in result, result
print(json.dumps(times))
"""


def _in_process_turns(fleet: _Fleet, count: int) -> list[float]:
    """The same turn without a broker: ``handle_message`` in a process of its own (as
    ``scorechat message`` runs it; not in this one, whose threads serve the model)."""
    import json

    env = {**fleet.env, "SCORECHAT_HOME": str(fleet.root / "local-home")}
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(count + 1), REPLY],
        capture_output=True, text=True, env=env, check=True, timeout=600,
    )  # fmt: skip
    return list(json.loads(done.stdout))[1:]  # the first one warms imports


def _serial_through_broker(broker: str, count: int) -> list[float]:
    from celery import Celery

    app = Celery(broker=broker, backend=broker)
    times = []
    for n in range(count):
        kwargs: dict[str, Any] = {"chat_id": f"serial-{n}", "message": REPLY,
                                  "scorecard": "Customer Service QA", "score": "Greeting"}  # fmt: skip
        started = time.perf_counter()
        app.send_task("scorechat.message", kwargs=kwargs).get(timeout=600)
        times.append(time.perf_counter() - started)
    return times


def _round_trips(broker: str, count: int) -> list[float]:
    from celery import Celery

    app = Celery(broker=broker, backend=broker)
    times = []
    for n in range(count):
        started = time.perf_counter()
        app.send_task("scorechat.end_session", kwargs={"chat_id": f"none-{n}"}).get(timeout=60)
        times.append((time.perf_counter() - started) * 1000)
    return times


def service_figures(root: Path, model_url: str, quick: bool = False) -> dict[str, float]:
    """Every service figure, or an empty dict when no Redis answers."""
    if not redis_answers():
        print("[bench] no Redis on 127.0.0.1:6379: service figures skipped", file=sys.stderr)
        return {}
    broker = f"redis://127.0.0.1:6379/{DB_NUMBER}"
    out: dict[str, float] = {}
    for processes in (1, 2, 4):
        flush_db(DB_NUMBER)
        fleet = _Fleet(root / f"service-{processes}", model_url, broker)
        fleet.start(processes)
        try:
            if processes == 1:
                # Overhead: one message at a time through the broker against in-process.
                count = 5 if quick else 20
                _serial_through_broker(broker, 2)  # warm the pool process
                local = statistics.median(_in_process_turns(fleet, count))
                serial = _serial_through_broker(broker, count)
                out["service_turn_in_process_ms"] = local * 1000
                out["service_turn_through_broker_ms"] = statistics.median(serial) * 1000
                # The broker's own cost: a round trip whose task does almost nothing
                # (end_session of an unknown chat: open the store, one query).
                trips = _round_trips(broker, 20 if quick else 100)
                out["service_broker_overhead_p50_ms"] = statistics.median(trips)
                out["service_broker_overhead_p95_ms"] = _percentile(trips, 95)
            wall, latencies = _run_chats(broker, f"bench{processes}")
        finally:
            fleet.stop()
        out[f"service_msgs_per_s_{processes}"] = CHATS * MESSAGES / wall
        out[f"service_p50_ms_{processes}"] = statistics.median(latencies) * 1000
        out[f"service_p95_ms_{processes}"] = _percentile(latencies, 95) * 1000
    out["service_scaling_2_over_1"] = out["service_msgs_per_s_2"] / out["service_msgs_per_s_1"]
    flush_db(DB_NUMBER)
    return out


def service_postgres_figures(
    root: Path, model_url: str, database: str, processes: int = 4
) -> dict[str, float]:
    """The 40 chats x 3 messages through ``processes`` worker processes whose store is the
    PostgreSQL ``database`` (an empty one)."""
    if not redis_answers():
        return {}
    broker = f"redis://127.0.0.1:6379/{DB_NUMBER}"
    flush_db(DB_NUMBER)
    fleet = _Fleet(root / f"service-pg-{processes}", model_url, broker, database)
    fleet.start(processes)
    try:
        wall, latencies = _run_chats(broker, f"benchpg{processes}")
    finally:
        fleet.stop()
        flush_db(DB_NUMBER)
    return {
        f"service_pg_msgs_per_s_{processes}": CHATS * MESSAGES / wall,
        f"service_pg_p50_ms_{processes}": statistics.median(latencies) * 1000,
        f"service_pg_p95_ms_{processes}": _percentile(latencies, 95) * 1000,
    }
