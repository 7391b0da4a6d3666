"""The store: sessions, messages, edits, versions, prompt history, full-text search and
the service's turn queue, behind one interface with two back ends.

``Store`` is that interface, written once: every public method is here, and those that
plain SQL can say are implemented here too, over four primitives a back end provides
(``_run`` for writes in one transaction, ``_all``/``_one`` for reads, and its own
opening, migrations, search and cross-process edit lock). Shared SQL is written with
``?`` placeholders and portable statements (``INSERT ... ON CONFLICT``, ``RETURNING``).

- ``engine.sqlite_store.SQLiteStore``: one file (aiosqlite), the default, for one person
  on one machine.
- ``engine.postgres_store.PostgresStore``: a ``postgresql://`` URL (psycopg 3 and its
  pool), for a team whose workers and apps on several hosts share one history.

``await Store.open(location)`` opens whichever the location names.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import AmbiguousError, NotFoundError
from engine.redact import redact


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


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def is_database_url(location: str | Path | None) -> bool:
    """True when ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


#: A part of a word as both stores' search splits text: letters and digits.
WORD_PART = re.compile(r"[^\W_]+")


SNIPPET_CHARS = 200
"""The most characters of a message a search hit shows (its marks aside)."""
SNIPPET_WORD_CHARS = 40
"""A longer word (a pasted blob, a base64 line, a path) shows its start and end."""


def bound_snippet(snippet: str, mark: tuple[str, str]) -> str:
    """``snippet`` cut to a line's worth: an index's snippet is a window of words, but
    one word may be 300,000 characters of a paste and the space between two a million.
    It is one line (white space of any length becomes one space), a word past
    ``SNIPPET_WORD_CHARS`` keeps its start and end around ``…``, and past
    ``SNIPPET_CHARS`` the text ends with ``…``. The marks are kept in pairs: a cut
    inside a match closes it."""
    marks = sorted({m for m in mark if m}, key=len, reverse=True)
    pieces = re.split("(" + "|".join(map(re.escape, marks)) + ")", snippet) if marks else [snippet]
    out: list[str] = []
    room, inside = SNIPPET_CHARS, False
    for i, piece in enumerate(pieces):
        if i % 2:  # a mark: it opens a match, or closes the one open
            inside = not inside
            out.append(mark[0] if inside else mark[1])
            continue
        text = "".join(_shorten_word(w) for w in re.split(r"(\s+)", piece))
        if len(text) > room:
            out.append(text[:room].rstrip() + "…")
            break
        out.append(text)
        room -= len(text)
    if inside:
        out.append(mark[1])
    return "".join(out).strip()


def _shorten_word(word: str) -> str:
    if word.isspace():
        return " "
    if len(word) <= SNIPPET_WORD_CHARS:
        return word
    half = SNIPPET_WORD_CHARS // 2
    return f"{word[:half]}…{word[-half:]}"


def search_words(text: str) -> list[list[str]]:
    """The words of a search, each as its parts: ``model_name`` is ``["model", "name"]``.

    Both stores split text the same way (letters and digits; anything else separates),
    and a search matches messages holding every word, its last part as a prefix.
    """
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return [parts for word in words if (parts := WORD_PART.findall(word.lower()))]


@dataclass
class Done:
    """What one statement of a write did: rows changed, and rows returned."""

    rowcount: int
    rows: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Backend:
    """What ``doctor`` says about a store."""

    name: str
    """``SQLite`` or ``PostgreSQL``."""
    version: str
    location: str
    """The file, or the URL without its password."""
    schema: int
    latest_schema: int


class Store(ABC):
    """The store's public interface, written once, for both back ends.

    Open with ``await Store.open(location)`` (a file path, or a ``postgresql://`` URL);
    close when done, or use it as an async context manager.
    """

    author: str = ""
    """Whose prompt history this store reads and adds to (the person, on a shared store)."""

    # ---- opening ---------------------------------------------------------------------

    @classmethod
    async def open(cls, location: str | Path) -> Store:
        """Open (creating and migrating when needed) the store ``location`` names."""
        if is_database_url(location):
            from engine.postgres_store import PostgresStore

            return await PostgresStore.open(str(location))
        from engine.sqlite_store import SQLiteStore

        return await SQLiteStore.open(location)

    @classmethod
    async def open_read_only(cls, location: str | Path) -> Store:
        """Open for reading only where the back end can (a read-only SQLite folder)."""
        if is_database_url(location):
            return await cls.open(location)
        from engine.sqlite_store import SQLiteStore

        return await SQLiteStore.open_read_only(location)

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int:
        """The number of migrations applied to the database."""

    @abstractmethod
    async def migrate(self) -> int:
        """Apply the migrations the database lacks (each once, even when several processes
        open a new database at once); the schema version after."""

    @abstractmethod
    async def backend(self) -> Backend:
        """Which database this is, its version, where, and its schema."""

    @abstractmethod
    async def check_writable(self) -> None:
        """Raise ``StoreError`` (one sentence) when nothing could be written now."""

    @abstractmethod
    def edit_lock(self, workspace: str, path: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the lock on one score file of one workspace for a check-and-write, across
        every process that shares this store (on SQLite, one host: the workspace's own
        file lock serialises writes, and this lock holds nothing more)."""

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- primitives the back ends provide --------------------------------------------

    @abstractmethod
    async def _run(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[Done]:
        """Run statements (``?`` placeholders) in one transaction: all or none."""

    @abstractmethod
    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]: ...

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Mapping[str, Any] | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> Done:
        return (await self._run([(sql, params)]))[0]

    # ---- sessions --------------------------------------------------------------------

    async def create_session(
        self,
        *,
        scorecard: str,
        score: str,
        path: str,
        workspace: str | None = None,
        baseline: str | None,
        provider: str | None = None,
        model: str | None = None,
        title: str = "",
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
        row = await self._one(f"SELECT count(*) AS n FROM sessions {where}", params)
        return int(row["n"]) if row else 0

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
        done = await self._write(
            "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
            (title[:200], time.time(), session_id),
        )
        if done.rowcount == 0:
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
        done = await self._write("DELETE FROM sessions WHERE id = ?", (session_id,))
        if done.rowcount == 0:
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
        text = redact(text)
        insert = (
            "INSERT INTO messages (session_id, role, text, parts, status, input_tokens,"
            " output_tokens, created_at, updated_at, turn_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        touch = ("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        added, _ = await self._run([insert, touch])
        return int(added.rows[0]["id"])

    async def message_for_turn(self, session_id: str, turn_key: str) -> int | None:
        """The id of the user message a task stored under ``turn_key``, if it did."""
        row = await self._one(
            "SELECT id FROM messages WHERE session_id = ? AND turn_key = ?", (session_id, turn_key)
        )
        return int(row["id"]) if row else None

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
    def _message(row: Mapping[str, Any]) -> StoredMessage:
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
        row = await self._one(
            "SELECT count(*) AS n FROM messages WHERE session_id = ?", (session_id,)
        )
        return int(row["n"]) if row else 0

    async def mark_partial_messages(self, session_id: str, status: str = "interrupted") -> int:
        """Messages left ``partial`` by a crash or a kill become ``interrupted``."""
        done = await self._write(
            "UPDATE messages SET status = ? WHERE session_id = ? AND status = 'partial'",
            (status, session_id),
        )
        return done.rowcount

    async def search(
        self, query: str, *, limit: int = 50, mark: tuple[str, str] = ("[", "]")
    ) -> list[SearchHit]:
        """Messages holding every word of ``query`` (the last part of each word as a
        prefix), newest first, with a snippet whose matches are wrapped in ``mark``: a
        line of text however the message is made (``bound_snippet``)."""
        hits = await self._search(query, limit=limit, mark=mark)
        return [replace(hit, snippet=bound_snippet(hit.snippet, mark)) for hit in hits]

    @abstractmethod
    async def _search(self, query: str, *, limit: int, mark: tuple[str, str]) -> list[SearchHit]:
        """The back end's search (as ``search``), its snippets as its index cuts them."""

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
        done = await self._write(
            "INSERT INTO edits (session_id, message_id, path, command, tool_input, before, after,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        return int(done.rows[0]["id"])

    @staticmethod
    def _edit(row: Mapping[str, Any]) -> Edit:
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
        session_id: str | None = None,
        note: str = "",
    ) -> Version:
        parent = await self._one(
            "SELECT id FROM versions WHERE path = ? ORDER BY id DESC LIMIT 1", (path,)
        )
        done = await self._write(
            "INSERT INTO versions (path, scorecard, score, content, parent_id, note, session_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        version = await self.get_version(int(done.rows[0]["id"]))
        assert version is not None
        return version

    async def list_versions(self, path: str) -> list[Version]:
        """The saved versions of one score file, newest first."""
        rows = await self._all("SELECT * FROM versions WHERE path = ? ORDER BY id DESC", (path,))
        return [Version(**dict(r)) for r in rows]

    async def get_version(self, version_id: int) -> Version | None:
        if not 0 < version_id < 2**63:  # both stores' integers are 64-bit
            return None
        row = await self._one("SELECT * FROM versions WHERE id = ?", (version_id,))
        return Version(**dict(row)) if row else None

    # ---- prompt history --------------------------------------------------------------

    async def add_prompt(self, text: str, keep: int = 500) -> None:
        """Remember a prompt of this store's person (``author``), keeping their latest."""
        if not text.strip():
            return
        text = redact(text)
        await self._run(
            [
                (
                    "INSERT INTO prompt_history (text, created_at, author) VALUES (?, ?, ?)",
                    (text, time.time(), self.author),
                ),
                (
                    "DELETE FROM prompt_history WHERE author = ? AND id NOT IN (SELECT id FROM"
                    " prompt_history WHERE author = ? ORDER BY id DESC LIMIT ?)",
                    (self.author, self.author, keep),
                ),
            ]
        )

    async def prompt_history(self, limit: int = 500) -> list[str]:
        """Earlier prompts of this store's person, oldest first."""
        rows = await self._all(
            "SELECT text FROM prompt_history WHERE author = ? ORDER BY id DESC LIMIT ?",
            (self.author, limit),
        )
        return [r["text"] for r in reversed(rows)]

    # ---- drafts ------------------------------------------------------------------------

    async def save_draft(self, session_id: str, text: str) -> None:
        """Keep what this store's person typed in ``session_id`` and has not sent; blank
        text forgets it. A session deleted meanwhile keeps nothing."""
        if not text.strip():
            await self._write(
                "DELETE FROM drafts WHERE session_id = ? AND author = ?", (session_id, self.author)
            )
            return
        await self._write(
            "INSERT INTO drafts (session_id, author, text, updated_at)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)"
            " ON CONFLICT (session_id, author) DO UPDATE"
            " SET text = excluded.text, updated_at = excluded.updated_at",
            (session_id, self.author, redact(text), time.time(), session_id),
        )

    async def draft(self, session_id: str) -> str:
        """This store's person's unsent text in ``session_id`` (``""`` when none)."""
        row = await self._one(
            "SELECT text FROM drafts WHERE session_id = ? AND author = ?",
            (session_id, self.author),
        )
        return str(row["text"]) if row else ""

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
        _, tickets = await self._run(
            [
                ("DELETE FROM chat_queue WHERE heartbeat < ?", (time.time() - 86_400,)),
                (
                    "SELECT turn_key, owner, heartbeat FROM chat_queue WHERE chat_id = ?"
                    " ORDER BY arrived_at, turn_key",
                    (chat_id,),
                ),
            ]
        )
        for row in tickets.rows:
            key, owner, heartbeat = row["turn_key"], row["owner"], row["heartbeat"]
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
            "INSERT INTO turn_results (turn_key, chat_id, caller_task_id, result, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (turn_key) DO UPDATE SET"
            " chat_id = excluded.chat_id, caller_task_id = excluded.caller_task_id,"
            " result = excluded.result, created_at = excluded.created_at",
            (turn_key, chat_id, caller_task_id, redact(json.dumps(result)), time.time()),
        )

    async def turn_result(self, turn_key: str) -> dict[str, Any] | None:
        """The stored result of a finished turn, by its key."""
        row = await self._one("SELECT result FROM turn_results WHERE turn_key = ?", (turn_key,))
        return json.loads(row["result"]) if row else None
