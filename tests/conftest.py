"""Shared fixtures: every test gets its own home, workspace and database; no network."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from engine.settings import Settings, load_settings
from engine.store import Store

pytest_plugins = ["tests.postgres"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "scorecards"
CORPUS = ROOT / "tests" / "corpus_plexus"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the long tests first: started last, one of them would leave the other
    workers of a parallel run idle while it ends alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SCORECHAT_HOME", str(home))
    for name in (
        "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "SCORECHAT_WORKSPACE", "SCORECHAT_PROVIDER",
        "SCORECHAT_MODEL", "CHAT_MODEL", "OLLAMA_MODEL", "SCORECHAT_DB", "SCORECHAT_SCRIPT",
        "SCORECHAT_APPROVAL", "SCORECHAT_CONFIG",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    # Port 9 (discard) is closed on loopback: "Ollama is not running" unless a test says so.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("SCORECHAT_RETRY_BASE_DELAY", "0.01")
    # A parallel run's workers set COLUMNS=80 and LINES=24, which an app spawned in a
    # pseudo-terminal would take over the terminal's real size.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1", "::1", "localhost",
    ):  # fmt: skip
        raise OSError(f"tests may not reach the network ({host})")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the sample scorecards."""
    target = tmp_path / "workspace"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the real-world Plexus score configs."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    return target


@pytest.fixture
def settings(workspace: Path) -> Settings:
    return load_settings(workspace=workspace)


@pytest.fixture
async def store(settings: Settings):  # type: ignore[no-untyped-def]
    opened = await Store.open(settings.db_path)
    yield opened
    await opened.close()


@pytest.fixture
def ollama_server():  # type: ignore[no-untyped-def]
    from tests.fakes.ollama_server import OllamaFake

    with OllamaFake() as server:
        yield server


@pytest.fixture
def anthropic_server():  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import AnthropicFake

    with AnthropicFake() as server:
        yield server
