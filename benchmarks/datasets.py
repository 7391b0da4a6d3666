"""Builds the benchmark workspace (50 scorecards, 500 scores) and database (2,000 sessions,
100,000 messages) once per benchmark run, in a temp folder."""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import time
from pathlib import Path

from engine.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "scorecards"
WORDS = [
    "agent",
    "customer",
    "refund",
    "policy",
    "threshold",
    "classifier",
    "valid",
    "classes",
    "prompt",
    "greeting",
    "compliance",
    "disclosure",
    "sentiment",
    "escalation",
    "transcript",
    "score",
    "node",
    "graph",
    "limit",
    "days",
    "confidence",
    "promise",
    "callback",
    "verification",
    "identity",
    "payment",
    "arrangement",
    "recorded",
    "line",
]


def build_workspace(target: Path, cards: int = 50, per_card: int = 10) -> Path:
    sources = sorted(SAMPLES.rglob("*.yaml"))
    for c in range(cards):
        card = target / f"Scorecard {c:02d}"
        card.mkdir(parents=True, exist_ok=True)
        for s in range(per_card):
            source = sources[(c * per_card + s) % len(sources)]
            text = source.read_text()
            name = f"{source.stem} {c:02d}-{s}"
            text = re.sub(r"^name: .*$", f"name: {name}", text, count=1, flags=re.M)
            (card / f"{name}.yaml").write_text(text)
    return target


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


async def _migrate(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


def build_database(
    path: Path, sessions: int = 2000, messages: int = 100_000, seed: int = 7
) -> Path:
    asyncio.run(_migrate(path))
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    now = time.time()
    per = messages // sessions
    session_rows, message_rows = [], []
    next_id = 1
    for i in range(sessions):
        sid = f"s{i:011d}"
        session_rows.append(
            (
                sid,
                f"Session {i}: {sentence(rng, 4)}",
                f"Scorecard {i % 50:02d}",
                f"Score {i % 500}",
                f"Scorecard {i % 50:02d}/Score.yaml",
                "ollama",
                "qwen3:8b",
                "active",
                "name: x\n",
                now - i * 60,
                now - i * 60,
                per,
            )
        )
        for m in range(per):
            role = "user" if m % 2 == 0 else "assistant"
            message_rows.append(
                (
                    next_id,
                    sid,
                    role,
                    sentence(rng, 40),
                    None,
                    "complete",
                    now - i * 60 + m,
                    now - i * 60 + m,
                )
            )
            next_id += 1
    db.executemany(
        "INSERT INTO sessions (id, title, scorecard, score, path, provider, model, status, baseline,"
        " created_at, updated_at, message_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        session_rows,
    )
    db.execute("DROP TRIGGER messages_count_insert")  # counts are set directly above
    db.executemany(
        "INSERT INTO messages (id, session_id, role, text, parts, status, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?)",
        message_rows,
    )
    db.execute(
        "CREATE TRIGGER messages_count_insert AFTER INSERT ON messages WHEN new.role != 'tool' BEGIN"
        " UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id; END"
    )
    db.commit()
    db.close()
    return path


def add_long_session(
    path: Path,
    scorecard: str,
    score: str,
    rel_path: str,
    messages: int = 1000,
    tool_calls: int = 50,
    words: int = 80,
    sid: str = "longsession01",
) -> str:
    """A session of ``messages`` messages (about ``words`` words each, some with tool calls)."""
    rng = random.Random(11)
    db = sqlite3.connect(path)
    now = time.time() + 10_000
    db.execute(
        "INSERT INTO sessions (id, title, scorecard, score, path, provider, model, status, baseline,"
        " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            sid,
            "A very long session",
            scorecard,
            score,
            rel_path,
            "ollama",
            "qwen3:8b",
            "active",
            None,
            now,
            now,
        ),
    )
    every = max(messages // max(tool_calls, 1), 1)
    for m in range(messages):
        role = "user" if m % 2 == 0 else "assistant"
        text = sentence(rng, words)
        if m == messages - 1:
            text += " LAST-MESSAGE-MARK"
        parts = None
        if role == "assistant" and m % every == 1:
            parts = json.dumps(
                [
                    {"type": "text", "text": text},
                    {
                        "type": "tool_use",
                        "id": f"t{m}",
                        "name": "str_replace_editor",
                        "input": {"command": "view", "path": rel_path},
                    },
                ]
            )
        db.execute(
            "INSERT INTO messages (session_id, role, text, parts, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (sid, role, text, parts, "complete", now + m, now + m),
        )
        if parts:
            db.execute(
                "INSERT INTO messages (session_id, role, text, parts, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                (
                    sid,
                    "tool",
                    "",
                    json.dumps(
                        [
                            {
                                "type": "tool_result",
                                "tool_use_id": f"t{m}",
                                "content": "viewed",
                                "is_error": False,
                            }
                        ]
                    ),
                    "complete",
                    now + m,
                    now + m,
                ),
            )
    db.commit()
    db.close()
    return sid


def add_score_sessions(
    path: Path, scorecard: str, score: str, rel_path: str, sessions: int = 2000
) -> None:
    """``sessions`` short sessions of one score, as a long-used score's side pane holds."""
    rng = random.Random(13)
    db = sqlite3.connect(path)
    now = time.time()
    db.executemany(
        "INSERT INTO sessions (id, title, scorecard, score, path, provider, model, status,"
        " baseline, created_at, updated_at, message_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                f"many{i:08d}", f"Session {i}: {sentence(rng, 5)}", scorecard, score, rel_path,
                "ollama", "qwen3:8b", "active", None, now - i * 30, now - i * 30, 4,
            )
            for i in range(sessions)
        ],
    )  # fmt: skip
    db.commit()
    db.close()
