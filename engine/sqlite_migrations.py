"""The SQLite database's ordered, named migrations (``PRAGMA user_version`` counts them).

Never edit one that has shipped: append a new one. A test builds a database at every
earlier version and upgrades it.
"""

from __future__ import annotations

import sqlite3

# Each migration is (name, SQL). Never edit one that has shipped: append a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core_tables",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            scorecard TEXT NOT NULL,
            score TEXT NOT NULL,
            path TEXT NOT NULL,
            provider TEXT,
            model TEXT,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
            baseline TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX sessions_by_updated ON sessions (updated_at DESC);
        CREATE INDEX sessions_by_score ON sessions (scorecard, score, updated_at DESC);

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
            text TEXT NOT NULL DEFAULT '',
            parts TEXT,
            status TEXT NOT NULL DEFAULT 'complete',
            input_tokens INTEGER,
            output_tokens INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX messages_by_session ON messages (session_id, id);

        CREATE TABLE edits (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
            message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
            path TEXT NOT NULL,
            command TEXT NOT NULL,
            tool_input TEXT,
            before TEXT,
            after TEXT,
            undone INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX edits_by_path ON edits (path, id);
        CREATE INDEX edits_by_session ON edits (session_id, id);

        CREATE TABLE versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            scorecard TEXT NOT NULL,
            score TEXT NOT NULL,
            content TEXT NOT NULL,
            parent_id INTEGER REFERENCES versions (id) ON DELETE SET NULL,
            note TEXT NOT NULL DEFAULT '',
            session_id TEXT REFERENCES sessions (id) ON DELETE SET NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX versions_by_path ON versions (path, id DESC);
        """,
    ),
    (
        "0002_message_search",
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5 (
            text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61'
        );
        INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages;
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        """,
    ),
    (
        "0003_session_totals",
        """
        ALTER TABLE sessions ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
        UPDATE sessions SET message_count =
            (SELECT count(*) FROM messages m WHERE m.session_id = sessions.id AND m.role != 'tool');
        CREATE TRIGGER messages_count_insert AFTER INSERT ON messages WHEN new.role != 'tool' BEGIN
            UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id;
        END;
        CREATE TRIGGER messages_count_delete AFTER DELETE ON messages WHEN old.role != 'tool' BEGIN
            UPDATE sessions SET message_count = message_count - 1 WHERE id = old.session_id;
        END;
        CREATE INDEX sessions_by_status ON sessions (status, updated_at DESC);
        """,
    ),
    (
        "0004_prompt_history",
        """
        CREATE TABLE prompt_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            text TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """,
    ),
    (
        "0005_search_prefix_index",
        # Prefix indexes let "refund"* style queries read one index entry instead of
        # merging every term that starts with the prefix.
        """
        DROP TRIGGER messages_fts_insert;
        DROP TRIGGER messages_fts_delete;
        DROP TRIGGER messages_fts_update;
        DROP TABLE messages_fts;
        CREATE VIRTUAL TABLE messages_fts USING fts5 (
            text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61',
            prefix = '2 3 4'
        );
        INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        """,
    ),
    (
        "0006_session_workspace_and_path",
        # A session belongs to one file of one workspace: sessions are found by the
        # file's path (two scores may share a name), and resuming one in another
        # workspace is refused instead of editing a different file.
        """
        ALTER TABLE sessions ADD COLUMN workspace TEXT;
        CREATE INDEX sessions_by_path ON sessions (path, updated_at DESC);
        """,
    ),
    (
        "0007_turn_keys_and_chat_queue",
        # Service mode. A user message may carry the key of the task that sent it, so a
        # redelivered task finds its message instead of storing it twice. The queue
        # holds one ticket per message waiting for (or running) its chat: the oldest
        # ticket of a chat runs, the others wait, whatever process or host they are
        # on. A finished turn's result is kept by its key, so a redelivered task that
        # had already finished returns it instead of running again.
        """
        ALTER TABLE messages ADD COLUMN turn_key TEXT;
        CREATE UNIQUE INDEX messages_by_turn_key ON messages (session_id, turn_key)
            WHERE turn_key IS NOT NULL;
        CREATE TABLE chat_queue (
            turn_key TEXT PRIMARY KEY,
            chat_id TEXT NOT NULL,
            arrived_at REAL NOT NULL,
            owner TEXT NOT NULL,
            heartbeat REAL NOT NULL
        );
        CREATE INDEX chat_queue_by_chat ON chat_queue (chat_id, arrived_at, turn_key);
        CREATE TABLE turn_results (
            turn_key TEXT PRIMARY KEY,
            chat_id TEXT NOT NULL,
            caller_task_id TEXT,
            result TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX turn_results_by_chat ON turn_results (chat_id, created_at);
        """,
    ),
    (
        "0008_prompt_history_author",
        # Prompt history is a person's own: on a store shared by a team each person
        # recalls only their prompts (a SQLite file is one person's: author '').
        """
        ALTER TABLE prompt_history ADD COLUMN author TEXT NOT NULL DEFAULT '';
        CREATE INDEX prompt_history_by_author ON prompt_history (author, id);
        """,
    ),
    (
        "0009_drafts",
        # What a person typed in a session's prompt and did not send, kept until it is
        # sent or cleared, so that a quit (or a crash) loses none of it.
        """
        CREATE TABLE drafts (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            author TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (session_id, author)
        );
        """,
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """A migration's statements, split where SQLite says one is complete (a trigger's
    ``BEGIN ... END;`` body stays whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    if current.strip():
        statements.append(current)
    return statements
