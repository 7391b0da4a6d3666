"""The SQLite store (aiosqlite): sessions, messages, edits, versions and full-text search.

One database file; WAL so that several processes can read while one writes,
``busy_timeout`` so that a writer waits instead of failing with "database is locked",
foreign keys with cascades, and ordered migrations tracked by ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from engine.errors import AmbiguousError, NotFoundError, StoreError
from engine.migrations import MIGRATIONS, SCHEMA_VERSION, split_sql
from engine.redact import redact

BUSY_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class SessionRecord:
    id: str
    title: str
    scorecard: str
    score: str
    path: str
    """The score file, relative to the workspace root."""
    provider: str | None
    model: str | None
    status: str
    baseline: str | None
    """The score file's text when the session started: the left side of its diff."""
    created_at: float
    updated_at: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    message_count: int = 0
    workspace: str | None = None
    """The workspace root the session's file lives in (``None`` for older sessions)."""

    def as_dict(self, with_baseline: bool = False) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "baseline" or with_baseline}
        return data


@dataclass(frozen=True)
class StoredMessage:
    id: int
    session_id: str
    role: str
    text: str
    parts: list[dict[str, Any]]
    status: str
    """``complete``, ``partial`` (still streaming or cut by a crash), ``interrupted`` or ``error``."""
    input_tokens: int | None
    output_tokens: int | None
    created_at: float
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Edit:
    id: int
    session_id: str | None
    message_id: int | None
    path: str
    command: str
    tool_input: dict[str, Any] | None
    before: str | None
    """``None`` when the edit created the file."""
    after: str | None
    undone: bool
    created_at: float


@dataclass(frozen=True)
class Version:
    id: int
    path: str
    scorecard: str
    score: str
    content: str
    parent_id: int | None
    note: str
    session_id: str | None
    created_at: float

    def as_dict(self, with_content: bool = False) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "content" or with_content}


@dataclass(frozen=True)
class SearchHit:
    session_id: str
    message_id: int
    role: str
    snippet: str
    title: str
    scorecard: str
    score: str
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_SESSION_COLS = (
    "id, title, scorecard, score, path, provider, model, status, baseline, created_at, "
    "updated_at, input_tokens, output_tokens, cost_usd, message_count, workspace"
)
_SESSION_COLS_NO_BASELINE = _SESSION_COLS.replace("baseline", "NULL AS baseline")
_MESSAGE_COLS = (
    "id, session_id, role, text, parts, status, input_tokens, output_tokens, created_at, updated_at"
)


_SESSION_ID_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def fts_query(text: str) -> str:
    """User words as an FTS5 query: every word must appear (as a prefix); no syntax errors."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{w}"*' for w in words)


class Store:
    """Async access to the database. Open with ``await Store.open(path)``; close when done."""

    def __init__(self, db: aiosqlite.Connection, path: Path):
        self._db = db
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._read_only = False

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
    async def open_read_only(cls, path: Path | str) -> Store:
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
    async def open(cls, path: Path | str) -> Store:
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

    async def close(self) -> None:
        await self._db.close()

    async def check_writable(self) -> None:
        """Take the write lock and let it go: raises if another process holds it too long
        or the file cannot be written."""
        self._check_file()
        await self._db.execute("BEGIN IMMEDIATE")
        await self._db.rollback()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        self._check_file()
        cursor = await self._db.execute(sql, params)
        await self._db.commit()
        return cursor  # type: ignore[return-value]

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # ---- sessions --------------------------------------------------------------------

    async def create_session(
        self,
        *,
        scorecard: str,
        score: str,
        path: str,
        baseline: str | None,
        provider: str | None = None,
        model: str | None = None,
        title: str = "",
        workspace: str | None = None,
        session_id: str | None = None,
    ) -> SessionRecord:
        now = time.time()
        session_id = session_id or new_session_id()
        await self._write(
            "INSERT INTO sessions (id, title, scorecard, score, path, provider, model, baseline,"
            " created_at, updated_at, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id, title, scorecard, score, path, provider, model, baseline, now, now,
                workspace,
            ),
        )  # fmt: skip
        session = await self.get_session(session_id)
        assert session is not None
        return session

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._one(f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,))
        return SessionRecord(**dict(row)) if row else None

    async def find_session(self, id_or_prefix: str) -> SessionRecord:
        """A session by its id or a unique prefix of it; one clear sentence otherwise."""
        text = (id_or_prefix or "").strip()
        if not text:
            raise NotFoundError("Name a session by its id.")
        exact = await self.get_session(text)
        if exact:
            return exact
        if len(text) > 64 or not _SESSION_ID_CHARS.fullmatch(text):
            raise NotFoundError(f"No session has the id {_shorten(text)!r}.")
        # A literal prefix: no pattern characters reach SQL.
        rows = await self._all(
            "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? LIMIT 3", (len(text), text)
        )
        if len(rows) == 1:
            found = await self.get_session(rows[0]["id"])
            assert found is not None
            return found
        if len(rows) > 1:
            raise AmbiguousError(f"The session id {text!r} is ambiguous: give more characters.")
        raise NotFoundError(f"No session has the id {text!r}.")

    async def list_sessions(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        scorecard: str | None = None,
        score: str | None = None,
        status: str | None = None,
        path: str | None = None,
        workspace: str | None = None,
    ) -> list[SessionRecord]:
        """Sessions, most recently updated first (without their baselines).

        ``path`` (the score file, relative to the workspace) is how a score's own
        sessions are found: two files may share a display name.
        """
        where, params = self._session_filter(scorecard, score, status, path, workspace)
        rows = await self._all(
            f"SELECT {_SESSION_COLS_NO_BASELINE} FROM sessions {where}"
            " ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [SessionRecord(**{**dict(r), "baseline": None}) for r in rows]

    async def count_sessions(
        self,
        *,
        scorecard: str | None = None,
        score: str | None = None,
        status: str | None = None,
        path: str | None = None,
    ) -> int:
        where, params = self._session_filter(scorecard, score, status, path)
        row = await self._one(f"SELECT count(*) FROM sessions {where}", params)
        return int(row[0]) if row else 0

    @staticmethod
    def _session_filter(
        scorecard: str | None,
        score: str | None,
        status: str | None,
        path: str | None = None,
        workspace: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if workspace:
            clauses.append("(workspace = ? OR workspace IS NULL)")
            params.append(workspace)
        for column, value in (
            ("path", path), ("scorecard", scorecard), ("score", score), ("status", status)
        ):  # fmt: skip
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    async def rename_session(self, session_id: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise NotFoundError("A session title cannot be empty.")
        cursor = await self._write(
            "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
            (title[:200], time.time(), session_id),
        )
        if cursor.rowcount == 0:
            raise NotFoundError(f"No session has the id {session_id!r}.")

    async def set_session_status(self, session_id: str, status: str) -> None:
        await self._write(
            "UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?",
            (status, time.time(), session_id),
        )

    async def update_session(self, session_id: str, **fields: Any) -> None:
        allowed = {"title", "provider", "model", "baseline", "path", "score", "scorecard"}
        sets = {k: v for k, v in fields.items() if k in allowed}
        if not sets:
            return
        assignments = ", ".join(f"{k} = ?" for k in sets)
        await self._write(
            f"UPDATE sessions SET {assignments}, updated_at = ? WHERE id = ?",
            (*sets.values(), time.time(), session_id),
        )

    async def add_usage(
        self, session_id: str, input_tokens: int, output_tokens: int, cost_usd: float
    ) -> None:
        await self._write(
            "UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
            " cost_usd = cost_usd + ?, updated_at = ? WHERE id = ?",
            (input_tokens, output_tokens, cost_usd, time.time(), session_id),
        )

    async def delete_session(self, session_id: str) -> None:
        cursor = await self._write("DELETE FROM sessions WHERE id = ?", (session_id,))
        if cursor.rowcount == 0:
            raise NotFoundError(f"No session has the id {session_id!r}.")

    # ---- messages --------------------------------------------------------------------

    async def add_message(
        self,
        session_id: str,
        role: str,
        text: str = "",
        *,
        parts: list[dict[str, Any]] | None = None,
        status: str = "complete",
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        turn_key: str | None = None,
    ) -> int:
        """Store a message; ``turn_key`` (a user message's task key) is unique per session,
        so a redelivered task never stores its message twice."""
        now = time.time()
        self._check_file()
        text = redact(text)
        cursor = await self._db.execute(
            "INSERT INTO messages (session_id, role, text, parts, status, input_tokens,"
            " output_tokens, created_at, updated_at, turn_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                role,
                text,
                redact(json.dumps(parts)) if parts is not None else None,
                status,
                input_tokens,
                output_tokens,
                now,
                now,
                turn_key,
            ),
        )
        await self._db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        await self._db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def message_for_turn(self, session_id: str, turn_key: str) -> int | None:
        """The id of the user message a task stored under ``turn_key``, if it did."""
        row = await self._one(
            "SELECT id FROM messages WHERE session_id = ? AND turn_key = ?", (session_id, turn_key)
        )
        return int(row[0]) if row else None

    async def update_message(
        self,
        message_id: int,
        *,
        text: str | None = None,
        parts: list[dict[str, Any]] | None = None,
        status: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        sets: dict[str, Any] = {"updated_at": time.time()}
        if text is not None:
            sets["text"] = redact(text)
        if parts is not None:
            sets["parts"] = redact(json.dumps(parts))
        if status is not None:
            sets["status"] = status
        if input_tokens is not None:
            sets["input_tokens"] = input_tokens
        if output_tokens is not None:
            sets["output_tokens"] = output_tokens
        assignments = ", ".join(f"{k} = ?" for k in sets)
        await self._write(
            f"UPDATE messages SET {assignments} WHERE id = ?", (*sets.values(), message_id)
        )

    @staticmethod
    def _message(row: sqlite3.Row) -> StoredMessage:
        data = dict(row)
        data["parts"] = json.loads(data["parts"]) if data["parts"] else []
        return StoredMessage(**data)

    async def get_message(self, message_id: int) -> StoredMessage | None:
        row = await self._one(f"SELECT {_MESSAGE_COLS} FROM messages WHERE id = ?", (message_id,))
        return self._message(row) if row else None

    async def last_messages(
        self, session_id: str, limit: int = 50, before_id: int | None = None
    ) -> list[StoredMessage]:
        """Up to ``limit`` messages, oldest first, that come before ``before_id`` (or the end)."""
        rows = await self._all(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? AND id < ?"
            " ORDER BY id DESC LIMIT ?",
            (session_id, before_id if before_id is not None else 2**62, limit),
        )
        return [self._message(r) for r in reversed(rows)]

    async def messages_from(
        self, session_id: str, first_id: int, limit: int = 500
    ) -> list[StoredMessage]:
        """Up to ``limit`` messages from ``first_id`` on, oldest first."""
        rows = await self._all(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? AND id >= ?"
            " ORDER BY id LIMIT ?",
            (session_id, first_id, limit),
        )
        return [self._message(r) for r in rows]

    async def user_parts(self, session_id: str, limit: int = 50) -> list[list[dict[str, Any]]]:
        """The parts of the session's latest user messages, newest first."""
        rows = await self._all(
            "SELECT parts FROM messages WHERE session_id = ? AND role = 'user'"
            " ORDER BY id DESC LIMIT ?",
            (session_id, limit),
        )
        return [json.loads(r["parts"]) if r["parts"] else [] for r in rows]

    async def messages(self, session_id: str) -> list[StoredMessage]:
        rows = await self._all(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? ORDER BY id", (session_id,)
        )
        return [self._message(r) for r in rows]

    async def messages_for_turns(self, session_id: str, turns: int) -> list[StoredMessage]:
        """The messages of the last ``turns`` user turns, oldest first (all when 0)."""
        if turns <= 0:
            return await self.messages(session_id)
        row = await self._one(
            "SELECT id FROM messages WHERE session_id = ? AND role = 'user'"
            " ORDER BY id DESC LIMIT 1 OFFSET ?",
            (session_id, turns - 1),
        )
        start = row["id"] if row else 0
        rows = await self._all(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? AND id >= ? ORDER BY id",
            (session_id, start),
        )
        return [self._message(r) for r in rows]

    async def count_messages(self, session_id: str) -> int:
        row = await self._one("SELECT count(*) FROM messages WHERE session_id = ?", (session_id,))
        return int(row[0]) if row else 0

    async def mark_partial_messages(self, session_id: str, status: str = "interrupted") -> int:
        """Messages left ``partial`` by a crash or a kill become ``interrupted``."""
        cursor = await self._write(
            "UPDATE messages SET status = ? WHERE session_id = ? AND status = 'partial'",
            (status, session_id),
        )
        return cursor.rowcount

    async def search(
        self, query: str, *, limit: int = 50, mark: tuple[str, str] = ("[", "]")
    ) -> list[SearchHit]:
        """Messages whose text has every word of ``query``, newest first, with a snippet.

        Newest first rather than by rank: FTS5 walks its index in rowid order and stops
        at ``limit``, so a common word over 100,000 messages costs a few milliseconds
        instead of scoring every match.
        """
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

    # ---- edits -----------------------------------------------------------------------

    async def record_edit(
        self,
        *,
        path: str,
        command: str,
        before: str | None,
        after: str | None,
        tool_input: dict[str, Any] | None = None,
        session_id: str | None = None,
        message_id: int | None = None,
    ) -> int:
        cursor = await self._write(
            "INSERT INTO edits (session_id, message_id, path, command, tool_input, before, after,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                message_id,
                path,
                command,
                json.dumps(tool_input) if tool_input is not None else None,
                before,
                after,
                time.time(),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def _edit(row: sqlite3.Row) -> Edit:
        data = dict(row)
        data["tool_input"] = json.loads(data["tool_input"]) if data["tool_input"] else None
        data["undone"] = bool(data["undone"])
        return Edit(**data)

    async def last_undoable_edit(self, path: str, session_id: str | None = None) -> Edit | None:
        """The newest edit of ``path`` not yet undone (of one session, when given)."""
        if session_id is None:
            row = await self._one(
                "SELECT * FROM edits WHERE path = ? AND undone = 0 ORDER BY id DESC LIMIT 1",
                (path,),
            )
        else:
            row = await self._one(
                "SELECT * FROM edits WHERE path = ? AND session_id = ? AND undone = 0"
                " ORDER BY id DESC LIMIT 1",
                (path, session_id),
            )
        return self._edit(row) if row else None

    async def mark_edit_undone(self, edit_id: int, undone: bool = True) -> None:
        """Mark an edit undone (or, for a redo, applied again)."""
        await self._write("UPDATE edits SET undone = ? WHERE id = ?", (int(undone), edit_id))

    async def edits(self, session_id: str, *, include_undone: bool = True) -> list[Edit]:
        rows = await self._all(
            "SELECT * FROM edits WHERE session_id = ?"
            + ("" if include_undone else " AND undone = 0")
            + " ORDER BY id",
            (session_id,),
        )
        return [self._edit(r) for r in rows]

    # ---- versions --------------------------------------------------------------------

    async def save_version(
        self,
        *,
        path: str,
        scorecard: str,
        score: str,
        content: str,
        note: str = "",
        session_id: str | None = None,
    ) -> Version:
        parent = await self._one(
            "SELECT id FROM versions WHERE path = ? ORDER BY id DESC LIMIT 1", (path,)
        )
        cursor = await self._write(
            "INSERT INTO versions (path, scorecard, score, content, parent_id, note, session_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                path,
                scorecard,
                score,
                content,
                parent["id"] if parent else None,
                note,
                session_id,
                time.time(),
            ),
        )
        version = await self.get_version(int(cursor.lastrowid or 0))
        assert version is not None
        return version

    async def list_versions(self, path: str) -> list[Version]:
        """The saved versions of one score file, newest first."""
        rows = await self._all("SELECT * FROM versions WHERE path = ? ORDER BY id DESC", (path,))
        return [Version(**dict(r)) for r in rows]

    async def get_version(self, version_id: int) -> Version | None:
        if not 0 < version_id < 2**63:  # SQLite integers are 64-bit
            return None
        row = await self._one("SELECT * FROM versions WHERE id = ?", (version_id,))
        return Version(**dict(row)) if row else None

    # ---- prompt history --------------------------------------------------------------

    async def add_prompt(self, text: str, keep: int = 500) -> None:
        if not text.strip():
            return
        self._check_file()
        text = redact(text)
        await self._db.execute(
            "INSERT INTO prompt_history (text, created_at) VALUES (?, ?)", (text, time.time())
        )
        await self._db.execute(
            "DELETE FROM prompt_history WHERE id <= (SELECT max(id) FROM prompt_history) - ?",
            (keep,),
        )
        await self._db.commit()

    async def prompt_history(self, limit: int = 500) -> list[str]:
        """Earlier prompts, oldest first."""
        rows = await self._all("SELECT text FROM prompt_history ORDER BY id DESC LIMIT ?", (limit,))
        return [r["text"] for r in reversed(rows)]

    # ---- service mode: one turn at a time per chat, results by key -------------------

    async def join_queue(self, chat_id: str, turn_key: str, owner: str) -> None:
        """Take a ticket for ``chat_id``, or beat the heart of the one taken. A redelivered
        task takes over its own ticket and keeps its place in the queue."""
        now = time.time()
        await self._write(
            "INSERT INTO chat_queue (turn_key, chat_id, arrived_at, owner, heartbeat)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (turn_key) DO UPDATE SET"
            " owner = excluded.owner, heartbeat = excluded.heartbeat",
            (turn_key, chat_id, now, owner, now),
        )

    async def take_turn(
        self, chat_id: str, turn_key: str, *, stale: Callable[[str, float], bool]
    ) -> bool:
        """True when ``turn_key`` holds the oldest live ticket of its chat (it may run).

        ``stale(owner, heartbeat)`` says whether a ticket's owner is gone (a dead process,
        or no heartbeat for too long): such tickets are passed over, and dropped after a
        day, so that a message redelivered later keeps its place.
        """
        self._check_file()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "DELETE FROM chat_queue WHERE heartbeat < ?", (time.time() - 86_400,)
            )
            async with self._db.execute(
                "SELECT turn_key, owner, heartbeat FROM chat_queue WHERE chat_id = ?"
                " ORDER BY arrived_at, turn_key",
                (chat_id,),
            ) as cursor:
                rows = list(await cursor.fetchall())
            await self._db.commit()
        except BaseException:
            await self._db.rollback()
            raise
        for key, owner, heartbeat in rows:
            if key == turn_key:
                return True
            if not stale(owner, heartbeat):
                return False
        return False

    async def leave_queue(self, turn_key: str) -> None:
        await self._write("DELETE FROM chat_queue WHERE turn_key = ?", (turn_key,))

    async def save_turn_result(
        self, turn_key: str, chat_id: str, result: dict[str, Any], caller_task_id: str | None
    ) -> None:
        await self._write(
            "INSERT OR REPLACE INTO turn_results (turn_key, chat_id, caller_task_id, result,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (turn_key, chat_id, caller_task_id, redact(json.dumps(result)), time.time()),
        )

    async def turn_result(self, turn_key: str) -> dict[str, Any] | None:
        """The stored result of a finished turn, by its key."""
        row = await self._one("SELECT result FROM turn_results WHERE turn_key = ?", (turn_key,))
        return json.loads(row[0]) if row else None
