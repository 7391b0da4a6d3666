"""The benchmark's PostgreSQL store: a database made for the run on the server
``SCORECHAT_BENCH_POSTGRES`` names (default: the local server), filled with the same
sessions and messages as the SQLite benchmark database, and dropped after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.postgres import with_database

ADMIN_URL = os.environ.get("SCORECHAT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SESSION_COLUMNS = (
    "id, title, scorecard, score, path, provider, model, status, baseline, created_at,"
    " updated_at, input_tokens, output_tokens, cost_usd, message_count, workspace"
)
MESSAGE_COLUMNS = (
    "id, session_id, role, text, parts, status, input_tokens, output_tokens, created_at,"
    " updated_at, turn_key"
)


@contextlib.contextmanager
def database(copy_from: Path | None = None) -> Iterator[str | None]:
    """A database of the run's own (``None`` when no server answers), dropped after; with
    ``copy_from``, holding that SQLite database's sessions and messages."""
    try:
        import psycopg
    except ImportError:
        print("[bench] psycopg is not installed: PostgreSQL figures skipped", file=sys.stderr)
        yield None
        return
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error:
        print("[bench] no PostgreSQL answers: PostgreSQL figures skipped", file=sys.stderr)
        yield None
        return
    name = f"scorechat_bench_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(ADMIN_URL, name)
    try:
        if copy_from is not None:
            _fill(url, copy_from)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill(url: str, source: Path) -> None:
    import psycopg

    from engine.store import Store

    async def migrate() -> None:
        await (await Store.open(url)).close()

    asyncio.run(migrate())
    lite = sqlite3.connect(source)
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE messages DISABLE TRIGGER USER")  # counts are copied as they are
        for table, columns in (("sessions", SESSION_COLUMNS), ("messages", MESSAGE_COLUMNS)):
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {columns} FROM {table}"):
                    copy.write_row(row)
        conn.execute("ALTER TABLE messages ENABLE TRIGGER USER")
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))"
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    lite.close()
