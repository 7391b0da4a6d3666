"""The SQLite store (aiosqlite): the default back end of ``engine.store.Store``.

One database file; WAL so that several processes can read while one writes,
``busy_timeout`` so that a writer waits instead of failing with "database is locked",
foreign keys with cascades, and ordered migrations tracked by ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from engine.errors import DATABASE_BUSY, StoreError, is_busy
from engine.sqlite_migrations import MIGRATIONS, SCHEMA_VERSION, split_sql
from engine.store import Backend, Done, SearchHit, Store, search_words

BUSY_TIMEOUT_MS = 15_000


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def fts_query(text: str) -> str:
    """User words as an FTS5 query: every word must appear, as a prefix (``model_name``
    is the phrase ``model name``, FTS5 splitting it as it split the text); no syntax
    errors."""
    return " ".join(f'"{"_".join(parts)}"*' for parts in search_words(text))


class SQLiteStore(Store):
    """One SQLite file. Open with ``await Store.open(path)``; close when done."""

    def __init__(self, db: aiosqlite.Connection, path: Path):
        self._db = db
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._read_only = False
        self._turn = asyncio.Lock()

    def _check_file(self) -> None:
        """Refuse to write when the database file was deleted or replaced under us.

        SQLite keeps writing into an unlinked file without a word; everything written
        after that would be lost when the process ends.
        """
        if self._read_only:
            raise StoreError(f"The database {self.path} is open read-only; nothing was changed.")
        if self._identity is not None and _file_identity(self.path) != self._identity:
            raise StoreError(
                f"The database {self.path} was deleted or replaced while scorechat was "
                "running; nothing more can be saved. Restart scorechat."
            )

    # ---- opening ---------------------------------------------------------------------

    @classmethod
    async def open_read_only(cls, path: Path | str) -> SQLiteStore:
        """Open for reading only: works on a read-only data folder or file.

        A database that does not exist yet, or needs a migration, is opened the usual
        way (which creates or upgrades it) when that is possible.
        """
        path = Path(path)
        writable = os.access(path.parent, os.W_OK) and (
            not path.exists() or os.access(path, os.W_OK)
        )
        if writable or not path.is_file():
            return await cls.open(path)
        db = None
        for query in ("mode=ro", "immutable=1"):  # immutable: no -shm can be made beside it
            try:
                db = await aiosqlite.connect(f"file:{path}?{query}", uri=True)
                db.row_factory = sqlite3.Row
                store = cls(db, path)
                version = await store.schema_version()
                break
            except sqlite3.Error:
                if db is not None:
                    await db.close()
                db = None
        if db is None:
            raise StoreError(f"The database {path} cannot be read.")
        if version != SCHEMA_VERSION:
            await db.close()
            raise StoreError(
                f"The database {path} is read-only and needs an upgrade (schema {version}); "
                "run scorechat once where it can write."
            )
        store._read_only = True
        return store

    @classmethod
    async def open(cls, path: Path | str) -> SQLiteStore:
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"The database path {path} is a folder; name a file.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                # Created readable by the user only: conversations may hold private data.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StoreError(
                f"The database {path} cannot be created: {exc.strerror or exc}."
            ) from None
        try:
            db = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"The database {path} cannot be opened: {exc}.") from None
        db.row_factory = sqlite3.Row
        store = cls(db, path)
        try:
            await store._configure_waiting()
            await store.migrate()
            store._identity = _file_identity(path)
        except BaseException as exc:
            # Whatever went wrong, the connection's thread must end, or the process hangs.
            await asyncio.shield(db.close())
            if isinstance(exc, sqlite3.DatabaseError):
                message = str(exc)
                if "not a database" in message or "malformed" in message:
                    raise StoreError(
                        f"The database {path} is damaged ({message}); move it aside to start "
                        "a new one."
                    ) from None
                raise StoreError(f"The database {path} cannot be used: {message}.") from None
            raise
        return store

    async def _configure_waiting(self) -> None:
        """``_configure``, waiting out another process that holds the database.

        Switching a new database to WAL takes a lock that SQLite's busy handler does
        not wait for: two processes opening a new database at once would otherwise
        fail with "database is locked".
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                await self._configure()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)

    async def _configure(self) -> None:
        await self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self._db.execute("PRAGMA synchronous = NORMAL")
        await self._db.execute("PRAGMA foreign_keys = ON")

    async def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migrations above the database's ``user_version``, each in a transaction.

        The version is read again inside each write transaction, so two processes that
        open a new database at once apply every migration exactly once.
        """
        if await self.schema_version() > SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.path} was written by a newer scorechat "
                f"(schema {await self.schema_version()}); upgrade scorechat to use it."
            )
        while True:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                version = await self.schema_version()
                if version >= target:
                    await self._db.rollback()
                    break
                _name, sql = MIGRATIONS[version]
                for statement in split_sql(sql):
                    if statement.strip():
                        await self._db.execute(statement)
                await self._db.execute(f"PRAGMA user_version = {version + 1}")
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise
        return await self.schema_version()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def backend(self) -> Backend:
        return Backend(
            "SQLite", sqlite3.sqlite_version, str(self.path), await self.schema_version(),
            SCHEMA_VERSION,
        )  # fmt: skip

    async def close(self) -> None:
        await self._db.close()

    async def check_writable(self) -> None:
        """Take the write lock and let it go: raises if another process holds it too long
        or the file cannot be written."""
        self._check_file()
        await self._db.execute("BEGIN IMMEDIATE")
        await self._db.rollback()

    @contextlib.asynccontextmanager
    async def edit_lock(self, workspace: str, path: str) -> AsyncIterator[None]:
        # One host: the workspace's file lock (taken by every writer) is the lock.
        yield

    async def _run(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[Done]:
        self._check_file()
        results = []
        # One connection serves every task of the process: a transaction's statements
        # must not interleave with another task's (nor a commit land mid-read).
        async with self._turn:
            try:
                for sql, params in steps:
                    async with self._db.execute(sql, params) as cursor:
                        rows = list(await cursor.fetchall()) if cursor.description else []
                        results.append(Done(cursor.rowcount, rows))  # type: ignore[arg-type]
                await self._db.commit()
            except BaseException as exc:
                await asyncio.shield(self._db.rollback())
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc) from exc
                raise
        return results

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        try:
            async with self._turn, self._db.execute(sql, params) as cursor:
                return list(await cursor.fetchall())  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        """A statement's failure as one sentence (a full disk, a lock held too long), a
        ``StoreError`` as the PostgreSQL store gives, so every caller hears of it."""
        if is_busy(exc):
            return StoreError(DATABASE_BUSY)
        return StoreError(f"The database {self.path} failed: {exc}.")

    async def _search(self, query: str, *, limit: int, mark: tuple[str, str]) -> list[SearchHit]:
        """Newest first rather than by rank: FTS5 walks its index in rowid order and stops
        at ``limit``, so a common word over 100,000 messages costs a few milliseconds
        instead of scoring every match."""
        match = fts_query(query)
        if not match:
            return []
        rows = await self._all(
            "SELECT m.session_id, m.id AS message_id, m.role,"
            " snippet(messages_fts, 0, ?, ?, '…', 12) AS snippet,"
            " s.title, s.scorecard, s.score, m.created_at"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " JOIN sessions s ON s.id = m.session_id"
            " WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
            (mark[0], mark[1], match, limit),
        )
        return [SearchHit(**dict(r)) for r in rows]
