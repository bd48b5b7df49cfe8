"""A minimal HTTP/1.1 server on ``asyncio.Protocol`` with keep-alive.

Why not ``http.server``: it spends a thread and a buffered file object per connection and
parses headers with ``email.parser``; the sandbox must answer several thousand small requests
per second on loopback. This server parses only what it needs (request line, headers, a
``Content-Length`` body), answers synchronously when the handler is synchronous, and only
spawns a task when the handler returns an awaitable (fault-injected delays).

Why not a protocol library: h11 (pure Python, installed with Airflow 2 and 3) was measured in
its place. An h11 port of this module (the same checks and answers: every raw-socket case of
``tests/sandbox/test_http_hostile.py`` passed) served 10,211 requests/s where this module served
32,537 (wrk, 16 keep-alive connections, ``loyalty/account/balance``, the servers side by side,
median of 5 rounds x 3 s on 2 cores; 8,029 vs 21,473 while other work loaded them): 31% of the
ceiling, where 80% was the bar. h11 alone spends ~43 us per request (23 parsing, 20 writing the
answer) while this parser and encoder spend ~5 us and the whole request ~30-40 us.

Scope: one request at a time per connection: pipelined requests wait in the buffer and are
answered in order once the current response is written; ``Content-Length`` bodies only
(``Transfer-Encoding`` -> 411), ``Connection: close`` and HTTP/1.0 honoured,
``Expect: 100-continue`` answered.

Hostile input: every malformed request (request line, header line, ``Content-Length``, a body
cut short by the client's end of stream, an oversized head or body) is answered with a 4xx and
the connection closed *lingeringly* (our side shut down, the rest of the client's bytes read and
discarded for up to :data:`LINGER_SEC`), so the client reads the answer instead of a reset. A
parser bug becomes a 400, never a dropped connection or a dead server.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = ["HttpServer", "Request", "Response", "json_response"]

MAX_HEAD = 64 * 1024
MAX_BODY = 10 * 1024 * 1024  # the real API's documented request limit
LINGER_SEC = 2.0  # after an error answer, how long the client's remaining bytes are discarded

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token (method, header name)
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only (str.isdigit accepts superscripts)
_VERSIONS = ("HTTP/1.1", "HTTP/1.0")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

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
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in some string: JSON escapes are ASCII
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")
    return Response(status, body, headers=headers or [], close=close)


Handler = Callable[[Request], "Response | Awaitable[Response]"]


def _encode(response: Response, keep_alive: bool, always: bytes = b"") -> bytes:
    head = _STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n".encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in response.headers)
    conn = "keep-alive" if keep_alive else "close"
    return b"".join(
        (
            head,
            f"Content-Type: {response.content_type}\r\nContent-Length: {len(response.body)}\r\n"
            f"Connection: {conn}\r\n{extra}".encode("latin-1"),
            always,
            b"\r\n",
            response.body,
        )
    )


def _error(status: int, text: str) -> Response:
    # Protocol-level errors still use the Altcraft envelope so clients parse one format.
    return json_response(status, {"error": status, "error_text": text, "data": None}, close=True)


class _Refused(Exception):
    """A malformed request: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _content_length(values: list[str]) -> int:
    """The body length from every ``Content-Length`` value (repeated headers, comma lists)."""
    items = [item.strip(" \t") for value in values for item in value.split(",")]
    if not items or not all(_DIGITS.fullmatch(item) for item in items):
        raise _Refused(400, "Invalid Content-Length")
    if any(len(item) > 18 for item in items):  # int() of 4301+ digits raises; all > 10 MB
        raise _Refused(413, "Request body exceeds 10 MB")
    lengths = {int(item) for item in items}
    if len(lengths) > 1:
        raise _Refused(400, "Conflicting Content-Length values")
    length = lengths.pop()
    if length > MAX_BODY:
        raise _Refused(413, "Request body exceeds 10 MB")
    return length


@dataclass(slots=True)
class _Head:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    length: int
    start: int  # offset of the body in the buffer


def _parse_head(buf: bytearray, end: int) -> _Head:
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if (
        len(parts) != 3
        or not _TOKEN.fullmatch(parts[0])
        or not (parts[1].startswith("/") or parts[1] == "*")
        or parts[2] not in _VERSIONS
    ):
        raise _Refused(400, "Malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    lengths: list[str] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # No colon, an empty or spaced name ("Host : x", obs-fold continuation lines): refused.
        if not colon or not _TOKEN.fullmatch(name):
            raise _Refused(400, "Malformed header line")
        name = name.lower()
        value = value.strip(" \t")
        if name == "content-length":
            lengths.append(value)
        headers[name] = value
    if "transfer-encoding" in headers:
        raise _Refused(411, "Length Required: only Content-Length bodies")
    if lengths:
        length = _content_length(lengths)
    elif method in ("POST", "PUT", "PATCH") and not target.startswith("/_sandbox/"):
        # Control calls take an empty body for "no options" (curl -X POST ...).
        raise _Refused(411, "Length Required")
    else:
        length = 0
    return _Head(method, target, version, headers, length, end + 4)


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._busy = False
        self._closed = False  # no more answers on this connection
        self._lost = False  # the transport is gone
        self._eof = False  # the client shut down its side: no more bytes will come
        self._lingering = False  # answered an error; discarding what the client still sends
        self._continued = False  # "100 Continue" already sent for the current request
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Future[None] | None = None  # keeps the delayed task alive

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = self._lost = True
        self._server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused request: read and dropped
        self._buf += data
        if not self._busy:
            self._process()
        elif len(self._buf) > MAX_HEAD + MAX_BODY and self._transport is not None:
            self._transport.pause_reading()  # pipelined bytes behind a slow answer: bounded

    def eof_received(self) -> bool:
        self._eof = True
        if self._lingering:
            assert self._transport is not None
            self._transport.close()  # the client is done too; our answer is flushed first
        elif not self._busy:
            self._process()
        return True  # keep the transport: a pending answer is still written, then closed

    def abort(self) -> None:
        if self._transport is not None and not self._lost:
            self._closed = True
            self._transport.abort()

    def _process(self) -> None:
        try:
            self._process_requests()
        except Exception as exc:  # a parser bug must answer, never drop the connection
            print(f"altcraft-sandbox: request error: {exc!r}", file=sys.stderr, flush=True)
            self._send(_error(400, "Malformed request"), False)

    def _process_requests(self) -> None:
        """Handle every complete request in the buffer (one at a time)."""
        while not self._closed and not self._busy:
            buf = self._buf
            end = buf.find(b"\r\n\r\n")
            if end < 0 and len(buf) <= MAX_HEAD:
                self._incomplete()  # wait for the rest of the head
                return
            if end < 0 or end > MAX_HEAD:
                self._send(_error(431, "Request header too large"), False)
                return
            try:
                head = _parse_head(buf, end)
            except _Refused as refused:
                self._send(_error(refused.status, refused.text), False)
                return
            start, length, headers = head.start, head.length, head.headers
            if len(buf) < start + length:
                if (
                    not self._continued
                    and head.version == "HTTP/1.1"
                    and headers.get("expect", "").lower() == "100-continue"
                    and self._transport is not None
                ):
                    self._continued = True
                    self._transport.write(_CONTINUE)
                self._incomplete()  # wait for the rest of the body
                return
            body = bytes(buf[start : start + length])
            del buf[: start + length]
            self._continued = False
            conn = headers.get("connection", "").lower()
            keep_alive = conn != "close" if head.version == "HTTP/1.1" else conn == "keep-alive"
            path, _, query = head.target.partition("?")
            request = Request(head.method, path, query, headers, body)
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

    def _incomplete(self) -> None:
        """More bytes are needed; if the client has shut down its side they never come."""
        if not self._eof:
            return
        if self._buf:
            self._send(_error(400, "Incomplete request: the stream ended inside it"), False)
        elif self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()

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
            if self._transport is not None and not self._transport.is_reading():
                self._transport.resume_reading()
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
        transport = self._transport
        if self._closed or transport is None:
            return
        transport.write(_encode(response, keep_alive, self._server.always))
        if keep_alive:
            return
        self._closed = True
        self._buf.clear()
        if self._eof or not transport.can_write_eof():
            transport.close()
            return
        # Lingering close: shut down our side, then read and drop whatever the client is still
        # sending (e.g. the rest of a refused 11 MB body) until it closes or LINGER_SEC passes.
        # Closing at once would make the kernel answer those bytes with a reset, which can
        # destroy our answer before the client reads it.
        transport.write_eof()
        self._lingering = True
        asyncio.get_running_loop().call_later(LINGER_SEC, transport.abort)


class HttpServer:
    """Owns the listening socket; ``handler`` maps a :class:`Request` to a :class:`Response`.

    ``default_headers`` are added to every response, protocol errors included.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        access_log: bool = False,
        default_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.handler = handler
        self.access_log = access_log
        self.always = "".join(f"{n}: {v}\r\n" for n, v in default_headers or []).encode("latin-1")
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
