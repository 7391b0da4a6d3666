"""The engine never imports the UI, and starting the CLI never imports the SDKs."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(out.stdout.split())


def test_engine_does_not_import_textual_or_tui() -> None:
    modules = _modules_after(
        "import engine, engine.agent, engine.store, engine.editor_tool, engine.workspace,"
        " engine.providers, engine.providers.ollama, engine.providers.anthropic,"
        " engine.providers.scripted, engine.watcher, engine.versions, engine.export"
    )
    assert "engine.agent" in modules
    assert not {m for m in modules if m == "textual" or m.startswith(("textual.", "tui"))}


def test_anthropic_sdk_is_not_imported_until_needed() -> None:
    modules = _modules_after("import engine.providers.anthropic, tui.cli")
    assert "engine.providers.anthropic" in modules
    assert "anthropic" not in modules
    assert "textual" not in modules


def test_the_worker_never_imports_the_ui() -> None:
    modules = _modules_after("import worker, worker.main, worker.tasks, worker.client")
    assert "celery" in modules and "engine.service" in modules
    assert not {m for m in modules if m == "textual" or m.startswith(("textual.", "tui"))}


def test_the_app_and_the_cli_never_import_celery() -> None:
    modules = _modules_after("import tui.cli, tui.app, engine.service")
    assert "tui.app" in modules and "engine.service" in modules
    assert not {m for m in modules if m in ("celery", "kombu") or m.startswith("celery.")}


def test_the_sqlite_store_never_loads_the_postgresql_driver(tmp_path) -> None:  # type: ignore[no-untyped-def]
    modules = _modules_after(
        "import asyncio\nfrom engine.store import Store\n"
        "async def main():\n"
        f"    await (await Store.open({str(tmp_path / 's.db')!r})).close()\n"
        "asyncio.run(main())"
    )
    assert "engine.sqlite_store" in modules
    assert not {m for m in modules if m.startswith(("psycopg", "engine.postgres"))}
