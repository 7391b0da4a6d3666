"""The PostgreSQL store (psycopg 3 with its async connection pool): the back end of
``engine.store.Store`` for a team whose workers and apps, on several hosts, share one
history.

psycopg is imported only when a ``postgresql://`` URL is opened, so the app on SQLite
never loads it. What differs from SQLite lives here: numbered migrations in a
``scorechat_schema`` table, taken under an advisory lock so that processes opening a
new database at once migrate it once; search on a ``tsvector`` column with a GIN index;
and the edit lock, a session-level advisory lock keyed by workspace and file, which
the server releases by itself when the holding process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError
from engine.postgres_migrations import FOLDED_FROM, FOLDED_TO, MIGRATIONS, SCHEMA_VERSION
from engine.redact import hide_password, redact
from engine.store import WORD_PART, Backend, Done, SearchHit, Store, search_words

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

#: Seconds to wait for the server when opening, and for a free connection after.
CONNECT_TIMEOUT = 10.0
#: The most connections one process opens (a turn, its heartbeat, an edit holding its
#: lock while it records, the app's refreshes); idle ones beyond one close after 10 min.
POOL_MAX = 8
#: Seconds a check-and-write waits for another host's edit of the same file.
EDIT_LOCK_TIMEOUT = 30.0
#: Search reads this many of the newest messages in order before asking the index.
RECENT_WINDOW = 2000
#: How much of a message search sees (the migrations' search column indexes the same):
#: a tsvector holds at most 1 MB, and a message of any length must still be stored.
SEARCHED_CHARS = 100_000
#: The advisory lock key that serialises migrations (any constant of our own).
_MIGRATION_LOCK = 0x5C0_2EC4A7
INSTALL = (
    "The PostgreSQL store needs psycopg: pip install 'scorechat[postgres]' "
    "(or 'psycopg[binary]' and 'psycopg-pool')."
)


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """Shared SQL (``?`` placeholders) in psycopg's style (``%s``; a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    """Parameters PostgreSQL accepts: its text cannot hold NUL, which SQLite's can, so a
    NUL becomes U+FFFD instead of failing the write (a message is never lost for it)."""
    return tuple(p.replace("\0", "\ufffd") if isinstance(p, str) and "\0" in p else p
                 for p in params)  # fmt: skip


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for ``parts`` (the same on every host)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_FOLD = str.maketrans(FOLDED_FROM, FOLDED_TO)


def fold(word: str) -> str:
    """A lower-case word with its accents folded, as the searched text is indexed."""
    return word.lower().translate(_FOLD)


def folded_words(text: str) -> list[list[str]]:
    """The words of a search (``search_words``), folded as the index holds them."""
    return [[fold(part) for part in parts] for parts in search_words(text)]


def _tsquery(words: list[list[str]]) -> str:
    """Every word must appear; its parts in order (``model_name``: ``model <-> name``), the
    last part as a prefix. Parts are letters and digits only, quoted: no syntax errors."""
    return " & ".join(
        " <-> ".join(f"'{p}'" for p in parts[:-1]) + (" <-> " if len(parts) > 1 else "")
        + f"'{parts[-1]}':*"
        for parts in words
    )  # fmt: skip


SNIPPET_TOKENS = 12


def _matches(tokens: list[str], words: list[list[str]]) -> list[tuple[int, int]]:
    """The runs of tokens (first, last) that match a search word: its parts in order, the
    last one as a prefix (each run is one phrase instance, as FTS5 sees it)."""
    runs = []
    for parts in words:
        n = len(parts)
        for i in range(len(tokens) - n + 1):
            if tokens[i + n - 1].startswith(parts[-1]) and tokens[i : i + n - 1] == parts[:-1]:
                runs.append((i, i + n - 1))
    return sorted(runs)


def snippet(text: str, words: list[list[str]], mark: tuple[str, str]) -> str:
    """A window of ``SNIPPET_TOKENS`` words of ``text`` holding the most matches, each match
    wrapped in ``mark`` and ``…`` where the text goes on, as SQLite's ``snippet()`` does."""
    text = text[:SEARCHED_CHARS]
    found = list(WORD_PART.finditer(text))
    if not found:
        return text[:80]
    runs = _matches([fold(t.group()) for t in found], words)
    span = min(SNIPPET_TOKENS, len(found))

    def score(first: int) -> tuple[int, int]:
        return sum(first <= a and b < first + span for a, b in runs), -first

    best = max(range(len(found) - span + 1), key=score)
    starts = {a: b for a, b in runs if best <= a and b < best + span}
    out, at, i = [], found[best].start() if best else 0, best
    while i < best + span:
        last = starts.get(i, i)
        out.append(text[at : found[i].start()])
        piece = text[found[i].start() : found[last].end()]
        out.append(f"{mark[0]}{piece}{mark[1]}" if i in starts else piece)
        at, i = found[last].end(), last + 1
    more = best + span < len(found)
    return ("…" if best else "") + "".join(out) + ("…" if more else text[at:])


def _psycopg() -> tuple[Any, Any, Any]:
    try:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise StoreError(INSTALL) from None
    return psycopg, dict_row, AsyncConnectionPool


def _user() -> str:
    """Who runs this process (a container may run as a user with no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _reason(exc: BaseException) -> str:
    """psycopg's message, first line only and without credentials."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(text.rstrip("."))


class PostgresStore(Store):
    """A PostgreSQL database shared by every process that names its URL."""

    def __init__(self, pool: AsyncConnectionPool, url: str):
        self._pool = pool
        self.url = url
        self.label = hide_password(url)
        self.author = f"{_user()}@{socket.gethostname()}"

    @classmethod
    async def open(cls, location: Any) -> PostgresStore:
        url = str(location)
        psycopg, dict_row, pool_class = _psycopg()
        label = hide_password(url)
        try:
            # One connection first: a server that is down or a database that does not
            # exist is one sentence at once, not a pool retrying in the background.
            first = await psycopg.AsyncConnection.connect(
                url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT
            )
        except (psycopg.Error, OSError, ValueError) as exc:
            raise StoreError(f"The database {label} cannot be reached: {_reason(exc)}.") from None
        try:
            await _migrate(first, label)
        finally:
            await first.close()
        # Each connection is checked as it is handed out: one the server dropped (a
        # restart, an idle timeout, a terminated backend) is replaced, not failed on.
        pool = pool_class(
            url, min_size=1, max_size=POOL_MAX, open=False, timeout=CONNECT_TIMEOUT,
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=pool_class.check_connection,
        )  # fmt: skip
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            await pool.close()
            raise StoreError(f"The database {label} cannot be reached: {_reason(exc)}.") from None
        return cls(pool, url)

    async def close(self) -> None:
        await self._pool.close()

    async def migrate(self) -> int:
        async with self._connection() as conn:
            return await _migrate(conn, self.label)

    async def schema_version(self) -> int:
        async with self._connection() as conn:
            return await _schema_version(conn)

    async def backend(self) -> Backend:
        row = await self._one("SELECT current_setting('server_version') AS v")
        version = str(row["v"]) if row else "?"
        return Backend(
            "PostgreSQL", version, self.label, await self.schema_version(), SCHEMA_VERSION
        )

    async def check_writable(self) -> None:
        row = await self._one(
            "SELECT pg_is_in_recovery() AS standby, current_user AS who,"
            " has_table_privilege('messages', 'INSERT, UPDATE, DELETE')"
            " AND has_table_privilege('sessions', 'INSERT, UPDATE, DELETE')"
            " AND has_table_privilege('edits', 'INSERT, UPDATE') AS writes"
        )
        if row and row["standby"]:
            raise StoreError(f"The database {self.label} is a read-only standby.")
        if row and not row["writes"]:
            raise StoreError(
                f"The user {row['who']} may not write scorechat's tables in {self.label}: "
                "grant it INSERT, UPDATE and DELETE on them."
            )

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn:
                yield conn
        except StoreError:
            raise
        except Exception as exc:
            psycopg, _, _ = _psycopg()
            if isinstance(exc, psycopg.Error) or type(exc).__name__ == "PoolTimeout":
                raise StoreError(f"The database {self.label} failed: {_reason(exc)}.") from None
            raise

    async def _run(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[Done]:
        results = []
        async with self._connection() as conn, conn.transaction():
            for sql, params in steps:
                cursor = await conn.execute(_pg(sql), _params(params))
                rows = await cursor.fetchall() if cursor.description else []
                results.append(Done(cursor.rowcount, rows))
        return results

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        async with self._connection() as conn:
            cursor = await conn.execute(_pg(sql), _params(params))
            return await cursor.fetchall()

    async def _search(self, query: str, *, limit: int, mark: tuple[str, str]) -> list[SearchHit]:
        """Newest first, as on SQLite, in two steps, because a GIN index cannot give its
        matches in order: the newest ``RECENT_WINDOW`` messages are read backwards by id
        (a common word fills the page there at once); only when they hold fewer than
        ``limit`` matches does the index find the rest, among the older messages (few,
        since the word is rare). The snippet is cut here from the message's text."""
        words = folded_words(query)
        if not words:
            return []
        match = _tsquery(words)
        async with self._connection() as conn:
            # A subquery with LIMIT is read lazily in id order and stops at ``limit``.
            cursor = await conn.execute(
                "SELECT id FROM (SELECT id, tsv FROM messages ORDER BY id DESC LIMIT %s) recent"
                " WHERE tsv @@ to_tsquery('simple', %s) ORDER BY id DESC LIMIT %s",
                (RECENT_WINDOW, match, limit),
            )
            ids = [row["id"] for row in await cursor.fetchall()]
            if len(ids) < limit:
                cursor = await conn.execute(
                    "SELECT id FROM messages ORDER BY id DESC OFFSET %s LIMIT 1",
                    (RECENT_WINDOW - 1,),
                )
                edge = await cursor.fetchone()
                if edge is not None:  # more messages than the window: the index, below it
                    cursor = await conn.execute(
                        "SELECT id FROM (SELECT id FROM messages"
                        " WHERE tsv @@ to_tsquery('simple', %s) OFFSET 0) older"
                        " WHERE id < %s ORDER BY id DESC LIMIT %s",
                        (match, edge["id"], limit - len(ids)),
                    )
                    ids += [row["id"] for row in await cursor.fetchall()]
            if not ids:
                return []
            cursor = await conn.execute(
                "SELECT m.session_id, m.id AS message_id, m.role, m.text,"
                " s.title, s.scorecard, s.score, m.created_at"
                " FROM messages m JOIN sessions s ON s.id = m.session_id"
                " WHERE m.id = ANY(%s) ORDER BY m.id DESC",
                (ids,),
            )
            rows = await cursor.fetchall()
        hits = []
        for row in rows:
            fields = {k: v for k, v in row.items() if k != "text"}
            hits.append(SearchHit(**fields, snippet=snippet(row["text"], words, mark)))
        return hits

    @contextlib.asynccontextmanager
    async def edit_lock(self, workspace: str, path: str) -> AsyncIterator[None]:
        """A session-level advisory lock on (workspace, path), held on a connection of its
        own for the check-and-write; the server drops it if this process dies."""
        key = lock_key("edit", workspace, path)
        async with self._connection() as conn:
            deadline = time.monotonic() + EDIT_LOCK_TIMEOUT
            delay = 0.01
            while True:
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,))
                row = await cursor.fetchone()
                if row and row["got"]:
                    break
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{path} is being edited by another process for over "
                        f"{EDIT_LOCK_TIMEOUT:g} s; nothing was written. Try again."
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            try:
                yield
            finally:
                await asyncio.shield(conn.execute("SELECT pg_advisory_unlock(%s)", (key,)))


async def _schema_version(conn: Any) -> int:
    """The version ``scorechat_schema`` records (0 for a database scorechat never used)."""
    cursor = await conn.execute("SELECT to_regclass('scorechat_schema') IS NOT NULL AS present")
    row = await cursor.fetchone()
    if not row["present"]:
        return 0
    cursor = await conn.execute("SELECT max(version) AS version FROM scorechat_schema")
    row = await cursor.fetchone()
    return int(row["version"] or 0)


async def _migrate(conn: Any, label: str, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations above the database's version, each in a transaction, under an
    advisory lock (two processes opening a new database at once migrate it once)."""
    psycopg, _, _ = _psycopg()
    try:
        version = await _schema_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The database {label} was written by a newer scorechat (schema {version}); "
                "upgrade scorechat to use it."
            )
        while version < target:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS scorechat_schema (version INTEGER NOT NULL,"
                    " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
                )
                version = await _schema_version(conn)
                if version >= target:
                    break
                name, sql = MIGRATIONS[version]
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO scorechat_schema (version, name, applied_at) VALUES (%s, %s, %s)",
                    (version + 1, name, time.time()),
                )
            version += 1
    except psycopg.Error as exc:
        raise StoreError(f"The database {label} cannot be used: {_reason(exc)}.") from None
    return version
