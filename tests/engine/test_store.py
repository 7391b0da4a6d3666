"""The store's interface, run against both back ends (one parametrised ``store`` fixture),
and each back end's own opening, migrations and limits."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import sqlite_migrations
from engine.errors import AmbiguousError, NotFoundError, StoreError
from engine.settings import Settings
from engine.store import SNIPPET_CHARS, Store
from tests.postgres import new_schema

MIGRATIONS, SCHEMA_VERSION = sqlite_migrations.MIGRATIONS, sqlite_migrations.SCHEMA_VERSION


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        location: str | Path = settings.db_path
    else:
        location = new_schema(request.getfixturevalue("pg_database"))
    opened = await Store.open(location)
    yield opened
    await opened.close()


async def _session(
    store: Store, title: str = "", score: str = "Greeting", card: str = "Customer Service QA"
):  # type: ignore[no-untyped-def]
    return await store.create_session(
        scorecard=card, score=score, path=f"{card}/{score}.yaml", baseline="name: x\n", title=title
    )


async def test_pragmas_and_permissions(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db" / "s.db")
    try:
        assert (await store._one("PRAGMA journal_mode"))["journal_mode"] == "wal"  # type: ignore[index]
        assert (await store._one("PRAGMA foreign_keys"))["foreign_keys"] == 1  # type: ignore[index]
        assert (await store._one("PRAGMA busy_timeout"))["timeout"] >= 5000  # type: ignore[index]
        assert await store.schema_version() == SCHEMA_VERSION
    finally:
        await store.close()
    assert stat.S_IMODE(os.stat(tmp_path / "db" / "s.db").st_mode) == 0o600


@pytest.mark.parametrize("start", range(len(MIGRATIONS)))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    # Build a database as an older release left it, with data in it.
    db = sqlite3.connect(path)
    for _name, sql in MIGRATIONS[:start]:
        db.executescript(sql)
    db.execute(f"PRAGMA user_version = {start}")
    if start >= 1:
        db.execute(
            "INSERT INTO sessions (id, title, scorecard, score, path, created_at, updated_at)"
            " VALUES ('old1', 'Old', 'C', 'S', 'C/S.yaml', 1, 1)"
        )
        db.execute(
            "INSERT INTO messages (session_id, role, text, created_at, updated_at)"
            " VALUES ('old1', 'user', 'raise the confidence threshold', 1, 1)"
        )
    db.commit()
    db.close()
    store = await Store.open(path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        if start >= 1:
            session = await store.get_session("old1")
            assert session is not None and session.message_count == 1
            hits = await store.search("confidence")
            assert [h.session_id for h in hits] == ["old1"]
    finally:
        await store.close()


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(StoreError, match="newer scorechat"):
        await Store.open(path)


async def test_corrupt_database_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match="damaged"):
        await Store.open(path)
    assert path.read_bytes().startswith(b"this is not")  # never overwritten


async def test_sessions_messages_paging_and_counts(store: Store) -> None:
    session = await _session(store)
    ids = [
        await store.add_message(session.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
        for i in range(10)
    ]
    await store.add_message(session.id, "tool", "", parts=[{"type": "tool_result", "content": "x"}])
    last = await store.last_messages(session.id, 4)
    assert [m.id for m in last] == [*ids[7:], last[-1].id]
    older = await store.last_messages(session.id, 3, before_id=last[0].id)
    assert [m.text for m in older] == ["message 4", "message 5", "message 6"]
    refreshed = await store.get_session(session.id)
    assert refreshed is not None and refreshed.message_count == 10  # tool rows are not counted
    turns = await store.messages_for_turns(session.id, 2)
    assert turns[0].text == "message 6"


async def test_list_filters_and_order(store: Store) -> None:
    a = await _session(store, "first")
    b = await _session(store, "second", score="Sentiment Analysis")
    await store.add_message(a.id, "user", "touch a")  # a becomes the most recent
    assert [s.id for s in await store.list_sessions()] == [a.id, b.id]
    assert [s.id for s in await store.list_sessions(score="Sentiment Analysis")] == [b.id]
    await store.set_session_status(b.id, "ended")
    assert [s.id for s in await store.list_sessions(status="ended")] == [b.id]
    assert await store.count_sessions(scorecard="Customer Service QA") == 2
    assert (await store.list_sessions(limit=1, offset=1))[0].id == a.id  # ending b touched it
    assert all(s.baseline is None for s in await store.list_sessions())


async def test_find_by_prefix(store: Store) -> None:
    session = await _session(store)
    assert (await store.find_session(session.id[:6])).id == session.id
    with pytest.raises(NotFoundError, match="No session has the id"):
        await store.find_session("zzzz")
    ids = [session.id] + [(await _session(store)).id for _ in range(40)]
    shared = next(a[0] for a in ids if sum(b.startswith(a[0]) for b in ids) > 1)
    with pytest.raises(AmbiguousError, match="ambiguous"):
        await store.find_session(shared)


async def test_search_snippets_and_triggers(store: Store) -> None:
    session = await _session(store, "refund talk")
    mid = await store.add_message(session.id, "user", "please add a Refund Promise class")
    await store.add_message(session.id, "assistant", "I added the class.")
    hits = await store.search("refund prom", mark=("<", ">"))
    assert len(hits) == 1 and hits[0].message_id == mid
    assert "<Refund>" in hits[0].snippet and hits[0].title == "refund talk"
    await store.update_message(mid, text="nothing to see")
    assert await store.search("refund") == []
    assert await store.search('"unbalanced AND (') == []  # user input never breaks the query syntax
    assert await store.search("   ") == []


async def test_cascade_delete(store: Store) -> None:
    session = await _session(store)
    mid = await store.add_message(session.id, "assistant", "hello searchable")
    await store.record_edit(
        path="C/S.yaml",
        command="str_replace",
        before="a",
        after="b",
        session_id=session.id,
        message_id=mid,
    )
    version = await store.save_version(
        path="C/S.yaml", scorecard="C", score="S", content="a", session_id=session.id
    )
    await store.delete_session(session.id)
    assert await store.get_session(session.id) is None
    assert await store.count_messages(session.id) == 0
    assert await store.edits(session.id) == []
    assert await store.search("searchable") == []
    kept = await store.get_version(version.id)
    assert kept is not None and kept.session_id is None  # versions outlive sessions
    with pytest.raises(NotFoundError):
        await store.delete_session(session.id)


async def test_rename(store: Store) -> None:
    session = await _session(store)
    await store.rename_session(session.id, "  New   title ")
    assert (await store.get_session(session.id)).title == "New title"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        await store.rename_session(session.id, "   ")


async def test_edits_and_undo_records(store: Store) -> None:
    session = await _session(store)
    first = await store.record_edit(
        path="p.yaml", command="str_replace", before="1", after="2", session_id=session.id
    )
    second = await store.record_edit(
        path="p.yaml",
        command="insert",
        before="2",
        after="3",
        session_id=session.id,
        tool_input={"command": "insert"},
    )
    edit = await store.last_undoable_edit("p.yaml")
    assert edit is not None and edit.id == second and edit.tool_input == {"command": "insert"}
    await store.mark_edit_undone(second)
    assert (await store.last_undoable_edit("p.yaml")).id == first  # type: ignore[union-attr]
    assert await store.last_undoable_edit("p.yaml", session_id="other") is None


async def test_versions_chain(store: Store) -> None:
    v1 = await store.save_version(
        path="p.yaml", scorecard="C", score="S", content="a: 1\n", note="first"
    )
    v2 = await store.save_version(
        path="p.yaml", scorecard="C", score="S", content="a: 2\n", note="second"
    )
    assert v1.parent_id is None and v2.parent_id == v1.id
    assert [v.id for v in await store.list_versions("p.yaml")] == [v2.id, v1.id]


async def test_prompt_history_is_bounded(store: Store) -> None:
    for i in range(12):
        await store.add_prompt(f"p{i}", keep=5)
    await store.add_prompt("   ")
    assert await store.prompt_history() == ["p7", "p8", "p9", "p10", "p11"]


async def test_a_draft_is_kept_per_session_and_person_until_cleared(store: Store) -> None:
    one, two = await _session(store), await _session(store)
    assert await store.draft(one.id) == ""
    await store.save_draft(one.id, "lower the limit\nand then")
    await store.save_draft(two.id, "other")
    await store.save_draft(one.id, "lower the limit to 5")  # typed on: replaced
    assert await store.draft(one.id) == "lower the limit to 5"
    assert await store.draft(two.id) == "other"
    # Another person on a shared store has drafts of their own.
    author = store.author
    store.author = "someone-else"
    try:
        assert await store.draft(one.id) == ""
        await store.save_draft(one.id, "theirs")
    finally:
        store.author = author
    assert await store.draft(one.id) == "lower the limit to 5"
    await store.save_draft(one.id, "  \n ")  # sent or cleared
    assert await store.draft(one.id) == ""
    # A key pasted by mistake is not kept; a deleted session keeps nothing.
    await store.save_draft(two.id, "key sk-ant-api03-" + "x" * 40)
    assert "x" * 40 not in await store.draft(two.id)
    await store.delete_session(two.id)
    await store.save_draft(two.id, "too late")
    assert await store.draft(two.id) == ""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_two_connections_write_without_lock_errors(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    location: str | Path = tmp_path / "shared.db"
    if backend == "postgres":
        location = new_schema(request.getfixturevalue("pg_database"))
    one, two = await Store.open(location), await Store.open(location)
    try:
        s1 = await _session(one)

        async def writer(store: Store, tag: str) -> None:
            for i in range(50):
                await store.add_message(s1.id, "user", f"{tag} {i}")

        await asyncio.gather(writer(one, "a"), writer(two, "b"))
        assert await one.count_messages(s1.id) == 100
    finally:
        await one.close()
        await two.close()


async def test_a_very_long_message_is_stored_and_found_by_its_beginning(store: Store) -> None:
    session = await _session(store)
    words = [f"w{i:07d}" for i in range(150_000)]  # 1.2 MB of distinct words
    mid = await store.add_message(session.id, "user", "needle " + " ".join(words))
    assert len((await store.get_message(mid)).text) > 1_000_000  # type: ignore[union-attr]
    hits = await store.search("needle")
    assert [h.message_id for h in hits] == [mid] and "[needle]" in hits[0].snippet


def _in_pairs(snippet: str, mark: tuple[str, str]) -> bool:
    """Every match mark in ``snippet`` opens a match that a later one closes."""
    found = re.findall("|".join(map(re.escape, sorted(set(mark), key=len, reverse=True))), snippet)
    if mark[0] == mark[1]:
        return len(found) % 2 == 0
    return found == [mark[0], mark[1]] * (len(found) // 2)


@pytest.mark.parametrize("mark", [("[", "]"), ("**", "**"), ("\x1b[1m", "\x1b[22m"), ("", "")])
async def test_a_hit_beside_a_pasted_blob_is_one_line_with_its_marks_in_pairs(
    store: Store, mark: tuple[str, str]
) -> None:
    """A word of 300,000 characters (a paste) and a million spaces between two words
    were shown whole: one hit filled the browser with thousands of lines."""
    session = await _session(store)
    await store.add_message(session.id, "user", f"see needle {'x' * 300_000} and more")
    await store.add_message(session.id, "user", "needle" + " " * 1_000_000 + "haystack")
    await store.add_message(session.id, "user", ("needle " + "long words " * 100).strip())
    hits = sorted(await store.search("needle", mark=mark), key=lambda h: h.message_id)
    assert len(hits) == 3
    plain = [h.snippet.replace(mark[0], "").replace(mark[1], "") if any(mark) else h.snippet
             for h in hits]  # fmt: skip
    for hit, text in zip(hits, plain, strict=True):
        assert len(text) <= SNIPPET_CHARS + 1 and "\n" not in text and "  " not in text
        assert "needle" in text and (not any(mark) or f"{mark[0]}needle{mark[1]}" in hit.snippet)
        assert _in_pairs(hit.snippet, mark) if any(mark) else True
    assert "xxxxxxxx…xxxxxxxx" in plain[0]
    assert plain[1].startswith("needle") and plain[1] in ("needle", "needle haystack")
    assert plain[2].endswith("…")


def test_the_postgres_search_sees_what_its_index_holds() -> None:
    from engine import postgres_migrations, postgres_store

    search_sql = [sql for _, sql in postgres_migrations.MIGRATIONS if "tsv tsvector" in sql][-1]
    assert f"left(text, {postgres_store.SEARCHED_CHARS})" in search_sql
    assert f"'{postgres_migrations.FOLDED_FROM}', '{postgres_migrations.FOLDED_TO}'" in search_sql


def test_the_postgres_search_folds_accents_as_sqlite_does() -> None:
    """Every Latin letter SQLite's FTS5 folds to a plain letter is folded the same way
    for PostgreSQL, and no other."""
    import sqlite3
    import unicodedata

    from engine.postgres_migrations import FOLDED_FROM, FOLDED_TO

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'unicode61')")
    letters = [chr(c) for c in range(0xC0, 0x2000) if unicodedata.category(chr(c)).startswith("L")]
    db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(letters))
    sqlite_folds = {}
    for plain in "abcdefghijklmnopqrstuvwxyz":
        for (rowid,) in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (f'"{plain}"',)):
            sqlite_folds[letters[rowid]] = plain
    assert dict(zip(FOLDED_FROM, FOLDED_TO, strict=True)) == sqlite_folds


async def test_a_nul_in_text_never_loses_the_message(store: Store) -> None:
    session = await _session(store, "with\x00nul")
    mid = await store.add_message(session.id, "user", "before\x00after", parts=[{"t": "a\x00b"}])
    stored = await store.get_message(mid)
    assert stored is not None and stored.text.startswith("before") and stored.text.endswith("after")
    with pytest.raises(NotFoundError):
        await store.find_session("ab\x00cd")
