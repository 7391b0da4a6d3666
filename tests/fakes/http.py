"""A tiny asyncio HTTP/1.1 server on 127.0.0.1, run in its own thread.

Enough of HTTP for the real SDK clients: request line, headers, a Content-Length
body, plain and chunked responses, and closing the connection mid-response to
simulate a dropped stream. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Response:
    """Handed to handlers: send a whole body, or stream chunks, or drop the connection."""

    def __init__(self, writer: asyncio.StreamWriter):
        self._writer = writer
        self.started = False

    async def send(
        self,
        status: int,
        body: bytes | str | dict | list,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        if isinstance(body, dict | list):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        head = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "Connection": "close",
        }
        head.update(headers or {})
        await self._head(status, head)
        self._writer.write(data)
        await self._writer.drain()

    async def start_stream(
        self,
        status: int = 200,
        content_type: str = "application/x-ndjson",
        headers: dict[str, str] | None = None,
    ) -> None:
        head = {"Content-Type": content_type, "Transfer-Encoding": "chunked", "Connection": "close"}
        head.update(headers or {})
        await self._head(status, head)

    async def chunk(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if not raw:
            return
        self._writer.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        await self._writer.drain()

    async def end_stream(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    def drop(self) -> None:
        """Close the socket without finishing the response."""
        transport = self._writer.transport
        transport.abort()

    async def _head(self, status: int, headers: dict[str, str]) -> None:
        self.started = True
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
            529: "Overloaded",
            503: "Service Unavailable",
        }.get(status, "Status")
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()


Handler = Callable[[Request, Response], Awaitable[None]]


@dataclass
class ServerThread:
    """Runs ``handler`` on 127.0.0.1:``port`` (0 = any free port) in a background thread."""

    handler: Handler
    port: int = 0
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name="fake-model-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            # Connections still open when the server stops end here, not as warnings
            # about destroyed pending tasks.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def serve_forever(self) -> None:
        """Serve in the current loop (for ``python -m``)."""
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            await server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                raw = await reader.readline()
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = b""
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            request = Request(method, path, headers, body)
            self.requests.append(request)
            response = Response(writer)
            await self.handler(request, response)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass


def serve_by_hand(server: ServerThread, name: str, port: int) -> None:
    """Run a fake server in the foreground until Ctrl+C (``python -m tests.fakes.…``)."""
    print(f"fake {name} listening on http://127.0.0.1:{port}", flush=True)
    try:
        asyncio.run(server.serve_forever())
    except KeyboardInterrupt:
        pass
