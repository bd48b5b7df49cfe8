"""A minimal HTTP/1.1 server on ``asyncio.Protocol`` with keep-alive.

Why not ``http.server``: it spends a thread and a buffered file object per connection and
parses headers with ``email.parser``; the sandbox must answer several thousand small requests
per second on loopback. This server parses only what it needs (request line, headers, a
``Content-Length`` body), answers synchronously when the handler is synchronous, and only
spawns a task when the handler returns an awaitable (fault-injected delays).

Scope: one request at a time per connection (no pipelining: extra bytes wait in the buffer
until the current response is written), ``Content-Length`` bodies only (``Transfer-Encoding``
-> 411), ``Connection: close`` and HTTP/1.0 honoured.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = ["HttpServer", "Request", "Response", "json_response"]

MAX_HEAD = 64 * 1024
MAX_BODY = 10 * 1024 * 1024  # the real API's documented request limit

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# Status lines are pre-encoded once; the hot path only concatenates bytes.
_STATUS_LINES = {
    code: f"HTTP/1.1 {code} {reason}\r\n".encode("ascii") for code, reason in _REASONS.items()
}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False  # close the connection after writing
    drop: bool = False  # close the connection WITHOUT writing anything


def json_response(
    status: int,
    payload: object,
    *,
    headers: list[tuple[str, str]] | None = None,
    close: bool = False,
) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers=headers or [], close=close)


Handler = Callable[[Request], "Response | Awaitable[Response]"]


def _encode(response: Response, keep_alive: bool) -> bytes:
    head = _STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n".encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in response.headers)
    conn = "keep-alive" if keep_alive else "close"
    return b"".join(
        (
            head,
            f"Content-Type: {response.content_type}\r\nContent-Length: {len(response.body)}\r\n"
            f"Connection: {conn}\r\n{extra}\r\n".encode("latin-1"),
            response.body,
        )
    )


def _error(status: int, text: str) -> Response:
    # Protocol-level errors still use the Altcraft envelope so clients parse one format.
    return json_response(status, {"error": status, "error_text": text, "data": None}, close=True)


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._busy = False
        self._closed = False
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Future[None] | None = None  # keeps the delayed task alive

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def abort(self) -> None:
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.abort()

    def _process(self) -> None:
        """Handle every complete request in the buffer (one at a time)."""
        while not self._closed and not self._busy:
            buf = self._buf
            end = buf.find(b"\r\n\r\n")
            if end < 0 and len(buf) <= MAX_HEAD:
                return  # wait for the rest of the head
            if end < 0 or end > MAX_HEAD:
                self._send(_error(431, "Request header too large"), False)
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._send(_error(400, "Malformed request line"), False)
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                self._send(_error(411, "Length Required: only Content-Length bodies"), False)
                return
            length_text = headers.get("content-length")
            if length_text is None:
                # Control calls take an empty body for "no options" (curl -X POST ...).
                if method in ("POST", "PUT", "PATCH") and not target.startswith("/_sandbox/"):
                    self._send(_error(411, "Length Required"), False)
                    return
                length = 0
            else:
                if not length_text.isdigit():
                    self._send(_error(400, "Invalid Content-Length"), False)
                    return
                length = int(length_text)
                if length > MAX_BODY:
                    self._send(_error(413, "Request body exceeds 10 MB"), False)
                    return
            start = end + 4
            if len(buf) < start + length:
                return  # wait for the rest of the body
            body = bytes(buf[start : start + length])
            del buf[: start + length]
            conn = headers.get("connection", "").lower()
            keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            path, _, query = target.partition("?")
            request = Request(method, path, query, headers, body)
            started = time.perf_counter()
            try:
                result = self._server.handler(request)
            except Exception as exc:  # the handler must never take the server down
                print(f"altcraft-sandbox: handler error: {exc!r}", file=sys.stderr, flush=True)
                result = _error(500, "Internal server error")
            if isinstance(result, Response):
                self._finish(request, result, keep_alive, started)
            else:
                # An awaitable (e.g. an injected delay): stop reading until it is done so that
                # responses stay in request order, and let other connections proceed.
                self._busy = True
                self._pending = asyncio.ensure_future(
                    self._await(request, result, keep_alive, started)
                )

    async def _await(
        self, request: Request, pending: Awaitable[Response], keep_alive: bool, started: float
    ) -> None:
        try:
            response = await pending
        except Exception as exc:  # the handler must never take the server down
            print(f"altcraft-sandbox: handler error: {exc!r}", file=sys.stderr, flush=True)
            response = _error(500, "Internal server error")
        self._busy = False
        self._finish(request, response, keep_alive, started)
        if not self._closed:
            self._process()

    def _finish(self, request: Request, response: Response, keep_alive: bool, start: float) -> None:
        if self._server.access_log:
            took = (time.perf_counter() - start) * 1000.0
            status = "-" if response.drop else str(response.status)
            print(f"{request.method} {request.path} {status} {took:.1f}ms", file=sys.stderr)
        if response.drop:
            self.abort()
            return
        self._send(response, keep_alive and not response.close)

    def _send(self, response: Response, keep_alive: bool) -> None:
        if self._closed or self._transport is None:
            return
        self._transport.write(_encode(response, keep_alive))
        if not keep_alive:
            self._closed = True
            self._transport.close()


class HttpServer:
    """Owns the listening socket; ``handler`` maps a :class:`Request` to a :class:`Response`."""

    def __init__(self, handler: Handler, *, access_log: bool = False) -> None:
        self.handler = handler
        self.access_log = access_log
        self.connections: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.abort()
            await self._server.wait_closed()
