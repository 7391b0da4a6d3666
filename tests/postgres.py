"""A real PostgreSQL for the tests: a database created for the run and dropped after.

The server is the one ``SCORECHAT_TEST_POSTGRES`` names (default: the local server on
127.0.0.1:5432, database ``test``, as its administrator). Each test gets a schema of
its own in the run's database (its URL sets ``search_path``), so tests in parallel
never see each other's rows. Where no server answers, the tests skip naming what to
install, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("SCORECHAT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
INSTALL = (
    "PostgreSQL does not answer on {where}: install and start it (Debian: apt-get install "
    "postgresql) or set SCORECHAT_TEST_POSTGRES to a server's URL, to run the PostgreSQL tests."
)


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}", query=""))


def as_user(url: str, user: str) -> str:
    """``url`` signing in as ``user`` (no password: the test server trusts local users)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def with_schema(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a database made for this run (one per test process), dropped after."""
    try:
        import psycopg
    except ImportError:
        _missing("psycopg is not installed: pip install 'scorechat[postgres]'.")
    where = urlsplit(ADMIN_URL).netloc.rpartition("@")[2] or "the default socket"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error:
        _missing(INSTALL.format(where=where))
    name = f"scorechat_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(ADMIN_URL, name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_schema(database_url: str) -> str:
    """A fresh, empty schema in the run's database; the URL that works in it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return with_schema(database_url, schema)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A PostgreSQL store URL of this test's own (an empty schema)."""
    return new_schema(pg_database)
