"""Talking to Redis without a client library: is it there, and empty one database."""

from __future__ import annotations

import socket
import time


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def flush_db(db: int, host: str = "127.0.0.1", port: int = 6379) -> None:
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        time.sleep(0.05)
        sock.recv(64)


def _command(sock: socket.socket, *parts: str) -> bytes:
    payload = f"*{len(parts)}\r\n" + "".join(f"${len(x.encode())}\r\n{x}\r\n" for x in parts)
    sock.sendall(payload.encode())
    return sock.recv(256)


def claim_db(candidates: list[int], owner: str, host: str = "127.0.0.1", port: int = 6379) -> int:
    """A database number no other test run holds: a key set only if absent marks it ours
    (for ten minutes at most), then the rest of the database is emptied."""
    with socket.create_connection((host, port), timeout=2) as sock:
        for db in candidates:
            _command(sock, "SELECT", str(db))
            if _command(sock, "SET", "scorechat:test-claim", owner, "NX", "EX", "600").startswith(
                b"+OK"
            ):
                _command(sock, "FLUSHDB")
                _command(sock, "SET", "scorechat:test-claim", owner, "EX", "600")
                return db
    raise RuntimeError(f"every Redis database of {candidates} is held by another test run")
