"""Real Redis and real worker processes for the service tests.

Redis: the one on 127.0.0.1:6379 when it answers, else a ``redis-server`` started on a
free port; with neither, the tests skip naming what to install, except under
``CI=true``, where that is a failure. Each test gets a database number of its own,
emptied before and after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.service.redis_helpers import claim_db, flush_db, redis_answers

ROOT = Path(__file__).resolve().parents[2]
INSTALL = (
    "Redis is not running on 127.0.0.1:6379 and redis-server is not installed: install "
    "Redis (Debian: apt-get install redis-server) to run the service tests."
)
#: Database numbers the tests take in turn (0 is left to people).
DATABASES = list(range(9, 16))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[tuple[str, int]]:
    if redis_answers("127.0.0.1", 6379):
        yield ("127.0.0.1", 6379)
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL)
        pytest.skip(INSTALL)
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not redis_answers("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}.")
            time.sleep(0.05)
        try:
            yield ("127.0.0.1", port)
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def broker_url(redis_server: tuple[str, int], request: pytest.FixtureRequest) -> Iterator[str]:
    host, port = redis_server
    db = claim_db(DATABASES, request.node.nodeid, host, port)
    yield f"redis://{host}:{port}/{db}"
    flush_db(db, host, port)  # the claim goes with the rest


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def children(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]

    def stop(self) -> None:
        """Stop the worker and its pool (the whole process group) at once."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Service:
    """Workers on one broker, one workspace and one store, with the loopback model."""

    broker_url: str
    workspace: Path
    home: Path
    model_url: str
    workers: list[Worker] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORECHAT_", "OLLAMA_"))}
        env.update(
            PYTHONPATH=str(ROOT), SCORECHAT_HOME=str(self.home),
            SCORECHAT_WORKSPACE=str(self.workspace), SCORECHAT_PROVIDER="ollama",
            OLLAMA_HOST=self.model_url, SCORECHAT_RETRY_BASE_DELAY="0.05",
            SCORECHAT_BROKER_URL=self.broker_url, **extra,
        )  # fmt: skip
        return env

    def start(self, name: str, concurrency: int = 1, *, home: Path | None = None,
              queues: str | None = None, **extra: str) -> Worker:  # fmt: skip
        log = self.home.parent / f"{name.replace('@', '_')}.log"
        env = self.env(**extra)
        if home is not None:
            env["SCORECHAT_HOME"] = str(home)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "worker", "--concurrency", str(concurrency),
             "--hostname", name, "--loglevel", "info", *(["--queues", queues] if queues else [])],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        worker = Worker(name, proc, log)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while " ready." not in worker.text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {name} did not start:\n{worker.text()[-3000:]}")
            time.sleep(0.05)
        return worker

    def client(self) -> Any:
        """A client as a caller writes it: Celery and the broker URL, nothing else."""
        from celery import Celery

        return Celery(broker=self.broker_url, backend=self.broker_url)


@pytest.fixture
def service(
    broker_url: str, workspace: Path, tmp_path: Path, ollama_server: Any
) -> Iterator[Service]:
    try:
        import celery  # noqa: F401
    except ImportError:
        reason = "Celery is not installed: pip install 'scorechat[worker]' for the service tests."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    svc = Service(broker_url, workspace, tmp_path / "svc-home", ollama_server.url)
    try:
        yield svc
    finally:
        for worker in svc.workers:
            worker.stop()


def wait_until(check: Callable[[], Any], timeout: float = 30, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def slow_edit_turn(service: Service, ollama_server: Any, chat_id: str) -> Any:
    """Send a new chat's edit whose reply streams slowly, and wait until a poller sees it
    running (state PROGRESS with reply text): the moment to kill its process."""
    from tests.fakes.steps import Step

    ollama_server.queue(Step(text="Let me look at the model settings first. " * 30, delay=0.02))
    task = service.client().send_task("scorechat.message", kwargs={
        "chat_id": chat_id, "message": "set model_name to gpt-4o",
        "scorecard": "customer", "score": "greeting",
    })  # fmt: skip
    info = wait_until(
        lambda: task.state == "PROGRESS" and (task.info or {}).get("reply") and task.info, 30
    )
    assert info["chat_id"] == chat_id and info["stage"] == "running"
    return task


def kill_turn(owner: str, worker: Worker) -> None:
    """kill -9 the pool process of ``worker`` that holds the chat's ticket ``owner``."""
    pid = int(owner.split("|")[1])
    assert pid in worker.children()
    os.kill(pid, signal.SIGKILL)
