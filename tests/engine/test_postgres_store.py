"""The PostgreSQL store's own parts: migrations, opening errors, search as SQLite searches,
the cross-process edit lock, and prompt history per person. (Everything else of the
interface runs on both stores in test_store.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engine import postgres_migrations
from engine.editor_tool import EditorTool
from engine.errors import StoreError
from engine.postgres_store import PostgresStore, folded_words, snippet
from engine.settings import load_settings
from engine.store import Store
from engine.versions import restore_version, save_version
from engine.workspace import Workspace
from tests.postgres import as_user, new_schema

psycopg = pytest.importorskip("psycopg", reason="pip install 'scorechat[postgres]' for these tests")

ROOT = Path(__file__).resolve().parents[2]


def _build(url: str, version: int) -> None:
    """A database as an earlier release left it: the first ``version`` migrations, data."""
    with psycopg.connect(url, autocommit=True) as conn:
        if version:
            conn.execute(
                "CREATE TABLE scorechat_schema (version INTEGER NOT NULL, name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL)"
            )
        for number, (name, sql) in enumerate(postgres_migrations.MIGRATIONS[:version], 1):
            conn.execute(sql)
            conn.execute("INSERT INTO scorechat_schema VALUES (%s, %s, 0)", (number, name))
        if version >= 1:
            conn.execute(
                "INSERT INTO sessions (id, title, scorecard, score, path, created_at, updated_at)"
                " VALUES ('old1', 'Old', 'C', 'S', 'C/S.yaml', 1, 1)"
            )
            conn.execute(
                "INSERT INTO messages (session_id, role, text, created_at, updated_at)"
                " VALUES ('old1', 'user', 'raise the confidence threshold of the café', 1, 1)"
            )


@pytest.mark.parametrize("start", range(len(postgres_migrations.MIGRATIONS)))
async def test_upgrade_from_every_earlier_version(pg_database: str, start: int) -> None:
    url = new_schema(pg_database)
    _build(url, start)
    async with await Store.open(url) as store:
        assert await store.schema_version() == postgres_migrations.SCHEMA_VERSION
        if start >= 1:
            session = await store.get_session("old1")
            assert session is not None and session.message_count == 1
            assert [h.session_id for h in await store.search("confid")] == ["old1"]
            # What was stored before search folded accents is found by its folded words.
            assert [h.session_id for h in await store.search("cafe")] == ["old1"]


async def test_processes_opening_a_new_database_at_once_migrate_it_once(pg_url: str) -> None:
    code = "import asyncio, sys\nfrom engine.store import Store\n" + (
        "async def main():\n    s = await Store.open(sys.argv[1])\n    await s.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_url], cwd=ROOT, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with psycopg.connect(pg_url) as conn:
        applied = conn.execute("SELECT version FROM scorechat_schema ORDER BY version").fetchall()
    assert [v for (v,) in applied] == list(range(1, postgres_migrations.SCHEMA_VERSION + 1))


async def test_newer_database_is_refused(pg_url: str) -> None:
    _build(pg_url, postgres_migrations.SCHEMA_VERSION)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO scorechat_schema VALUES (99, 'future', 0)")
    with pytest.raises(StoreError, match="newer scorechat"):
        await Store.open(pg_url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:s3cretpw@127.0.0.1:1/nowhere",  # nothing listens on port 1
        "postgresql://postgres:s3cretpw@127.0.0.1:5432/no_such_database_here",
    ],
)
async def test_an_unreachable_database_is_one_sentence_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    message = str(caught.value)
    assert "s3cretpw" not in message and "\n" not in message
    assert message.startswith("The database postgresql://") and "***" in message


def test_the_setting_selects_the_store_and_never_shows_the_password(tmp_path: Path) -> None:
    url = "postgresql://ann:s3cretpw@db.example:5432/team"
    settings = load_settings(environ={"SCORECHAT_DB": url}, home=tmp_path)
    assert settings.database == url
    assert settings.database_label == "postgresql://ann:***@db.example:5432/team"
    assert load_settings(home=tmp_path).database == tmp_path / "data" / "scorechat.db"


async def test_search_finds_what_sqlite_finds(pg_url: str, tmp_path: Path) -> None:
    texts = [
        "Set model_name to gpt-4o-mini in Customer Service QA/Greeting.yaml",
        "The refund promise class needs a clearer prompt.",
        "Raise the confidence threshold to 0.8 for call-centre scores",
        "greetings and farewells: the Greeting score looks fine",
        "Refunds: see https://example.com/refund-policy for the wording",
        "nothing to find here",
        "Le café est très bon, dit l'agent à Zoë",
        "ÄRGER über die Wartezeit; Straße und Œuvre bleiben",
    ]
    queries = ["greet", "model_name", "refund", "refund prom", "0.8", "call-centre", "example com",
               "QA/Greeting", "nothing here", "absent", "cafe", "CAFÉ", "tres bon", "zoe",
               "arger", "uber warte", "straße", "strasse", "œuvre"]  # fmt: skip
    found = {}
    for location in (tmp_path / "s.db", pg_url):
        async with await Store.open(location) as store:
            session = await store.create_session(
                scorecard="C", score="S", path="C/S.yaml", baseline=None, title="t"
            )
            for text in texts:
                await store.add_message(session.id, "user", text)
            found[str(location)[:6]] = [
                [(texts.index(t), h.snippet) for h in await store.search(q) for t in texts
                 if h.snippet.replace("[", "").replace("]", "").strip("…") in t]
                for q in queries
            ]  # fmt: skip
    sqlite_hits, pg_hits = found[str(tmp_path / "s.db")[:6]], found["postgr"]
    assert [[i for i, _ in q] for q in pg_hits] == [[i for i, _ in q] for q in sqlite_hits]
    assert pg_hits == sqlite_hits  # the same words marked, the same windows


def test_snippet_marks_prefixes_and_cuts_long_text() -> None:
    words = folded_words("refund prom")
    text = " ".join(f"w{i}" for i in range(30)) + " a Refund Promise here " + "tail " * 20
    cut = snippet(text, words, ("<", ">"))
    assert "<Refund> <Promise>" in cut and cut.startswith("…") and cut.endswith("…")
    assert len(cut.split()) == 12
    accented = snippet("Le Café est très bon", folded_words("cafe tres"), ("<", ">"))
    assert accented == "Le <Café> est <très> bon"


async def test_an_edit_waits_for_another_process_editing_the_same_file(
    pg_url: str, workspace: Path
) -> None:
    holder = await Store.open(pg_url)
    writer = await Store.open(pg_url)
    try:
        rel = "Customer Service QA/Greeting.yaml"
        before = (workspace / rel).read_text()
        tool = EditorTool(workspace, writer)
        async with holder.edit_lock(str(workspace), rel):
            edit = asyncio.create_task(
                tool.run({"command": "str_replace", "path": rel, "old_str": "name: Greeting",
                          "new_str": "name: Greeting Check"})
            )  # fmt: skip
            await asyncio.sleep(0.5)
            assert not edit.done()  # held by the other connection (another host, as it may be)
            assert (workspace / rel).read_text() == before
        result = await edit
        assert not result.is_error, result.text
        assert "name: Greeting Check" in (workspace / rel).read_text()
        # Another file of the same workspace is not held by that lock.
        async with holder.edit_lock(str(workspace), rel):
            other = "Customer Service QA/Empathy Shown.yaml"
            text = (workspace / other).read_text()
            first = text.splitlines()[0]
            result = await asyncio.wait_for(
                tool.run({"command": "str_replace", "path": other, "old_str": first,
                          "new_str": first + "  # checked"}), 30,
            )  # fmt: skip
            assert not result.is_error, result.text
    finally:
        await holder.close()
        await writer.close()


async def test_a_restore_waits_for_another_host_editing_the_file(
    pg_url: str, workspace: Path
) -> None:
    """A version's restore is a write like an edit: it takes the store's lock on the file
    too (it took only the workspace's, which another host does not share)."""
    holder = await Store.open(pg_url)
    writer = await Store.open(pg_url)
    try:
        rel = "Customer Service QA/Greeting.yaml"
        ws = Workspace(workspace)
        version = await save_version(writer, ws, rel)
        (workspace / rel).write_text((workspace / rel).read_text().replace("100", "7"))
        async with holder.edit_lock(str(workspace), rel):
            restore = asyncio.create_task(restore_version(writer, ws, version.id))
            await asyncio.sleep(0.5)
            assert not restore.done() and "limit: 7" in (workspace / rel).read_text()
        assert "Restored version" in await asyncio.wait_for(restore, 30)
        assert "limit: 100" in (workspace / rel).read_text()
    finally:
        await holder.close()
        await writer.close()


async def test_a_dead_holder_releases_the_edit_lock(pg_url: str, workspace: Path) -> None:
    code = (
        "import asyncio, sys\nfrom engine.store import Store\n"
        "async def main():\n    s = await Store.open(sys.argv[1])\n"
        "    async with s.edit_lock(sys.argv[2], 'C/S.yaml'):\n"
        "        print('held', flush=True)\n        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, pg_url, str(workspace)], cwd=ROOT,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        async with await Store.open(pg_url) as store:
            proc.kill()  # as kill -9: no unlock is ever sent
            proc.wait(10)
            async with asyncio.timeout(20), store.edit_lock(str(workspace), "C/S.yaml"):
                pass
    finally:
        proc.kill()
        proc.wait(10)


async def test_prompt_history_is_each_persons_own(pg_url: str) -> None:
    ann, bob = await Store.open(pg_url), await Store.open(pg_url)
    try:
        assert isinstance(ann, PostgresStore)
        bob.author = "bob@elsewhere"
        await ann.add_prompt("ann's question")
        await bob.add_prompt("bob's question")
        for i in range(5):
            await bob.add_prompt(f"bob {i}", keep=3)
        assert await ann.prompt_history() == ["ann's question"]
        assert await bob.prompt_history() == ["bob 2", "bob 3", "bob 4"]
    finally:
        await ann.close()
        await bob.close()


@pytest.mark.parametrize("window", [1, 3, 5, 50])
async def test_search_below_the_recent_window_finds_every_match_in_order(
    pg_url: str, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import postgres_store

    monkeypatch.setattr(postgres_store, "RECENT_WINDOW", window)
    async with await Store.open(pg_url) as store:
        session = await store.create_session(
            scorecard="C", score="S", path="C/S.yaml", baseline=None
        )
        ids = [
            await store.add_message(
                session.id, "user", f"{'refund' if i in (0, 2, 7) else 'x'} {i}"
            )
            for i in range(10)
        ]
        hits = await store.search("refund")
        assert [h.message_id for h in hits] == [ids[7], ids[2], ids[0]]
        assert [h.message_id for h in await store.search("refund", limit=2)] == [ids[7], ids[2]]
        assert await store.search("absent") == []


async def test_connections_the_server_dropped_are_replaced(pg_url: str) -> None:
    async with await Store.open(pg_url) as store:
        session = await store.create_session(
            scorecard="C", score="S", path="C/S.yaml", baseline=None
        )
        # The server ends every connection of this database (a restart, an admin's kill).
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await store.add_message(session.id, "user", "still here")
        assert [m.text for m in await store.messages(session.id)] == ["still here"]


async def test_doctor_check_names_a_user_that_may_not_write(pg_url: str) -> None:
    async with await Store.open(pg_url) as store:
        await store.check_writable()  # the owner may
    role = f"scorechat_reader_{uuid.uuid4().hex[:8]}"  # roles are the server's, not the run's
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
        schema = admin.execute("SELECT current_schema()").fetchone()[0]
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    reader_url = as_user(pg_url, role)
    try:
        async with await Store.open(reader_url) as reader:
            with pytest.raises(StoreError, match=f"{role} may not write"):
                await reader.check_writable()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
            admin.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {role}")
            admin.execute(f"DROP ROLE {role}")
