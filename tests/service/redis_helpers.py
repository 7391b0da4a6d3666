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
