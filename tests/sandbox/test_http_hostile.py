"""Malformed and hostile requests over raw sockets: always a 4xx, never a traceback or a
dropped connection, and the server keeps serving afterwards (checked after every test)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, SandboxHandle, run_sandbox

TOKEN = "hostile-token"
API = "/api/v1.1/loyalty/account/balance"
GOOD = json.dumps(
    {"token": TOKEN, "loyalty_program_id": 1, "matching": "profile_id", "profile_id": "p-1"}
).encode()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE) as sb:
        yield sb
        # Nothing hostile produced a traceback or a handler/parser error in the server.
        assert "Traceback" not in sb.stderr()
        assert "error:" not in sb.stderr()


@pytest.fixture(autouse=True)
def _still_serving(sandbox: SandboxHandle) -> Iterator[None]:
    yield
    # After each hostile exchange a normal request on a new connection still works.
    answer = requests.post(sandbox.url + API, data=GOOD, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["error"] == 0
    assert sandbox.health()


def _address(sandbox: SandboxHandle) -> tuple[str, int]:
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket timeout)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(sandbox: SandboxHandle, data: bytes, *, shutdown: bool = False) -> bytes:
    """Send raw bytes, optionally shut down our side, return the whole answer."""
    with socket.create_connection(_address(sandbox), timeout=5) as sock:
        sock.sendall(data)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        return _read_answer(sock)


def status_of(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(line.split(b" ")[1])


def post(body: bytes, *, path: str = API, extra: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
    return head + extra + b"\r\n" + body


# ----------------------------------------------------------------- Content-Length
@pytest.mark.parametrize(
    ("length_headers", "status"),
    [
        (b"Content-Length: -1\r\n", 400),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: +5\r\n", 400),
        (b"Content-Length: 0x10\r\n", 400),
        (b"Content-Length: \r\n", 400),
        (b"Content-Length: 1 2\r\n", 400),
        ("Content-Length: \u00b2\r\n".encode("latin-1"), 400),  # str.isdigit() says True
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),
        (b"Content-Length: 5, 6\r\n", 400),
        (b"Content-Length: 11000000\r\n", 413),
        (b"Content-Length: " + b"9" * 5000 + b"\r\n", 413),  # int() refuses > 4300 digits
    ],
)
def test_bad_content_length(sandbox: SandboxHandle, length_headers: bytes, status: int) -> None:
    data = b"POST " + API.encode() + b" HTTP/1.1\r\nHost: x\r\n" + length_headers + b"\r\n{}"
    answer = exchange(sandbox, data)
    assert status_of(answer) == status
    assert b"Connection: close" in answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == status


def test_repeated_equal_content_length_is_accepted(sandbox: SandboxHandle) -> None:
    extra = f"Content-Length: {len(GOOD)}\r\nConnection: close\r\n".encode()
    answer = exchange(sandbox, post(GOOD, extra=extra))
    assert status_of(answer) == 200
    assert b'"error":0' in answer


def test_body_shorter_than_content_length_then_end_of_stream(sandbox: SandboxHandle) -> None:
    data = b"POST " + API.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
    answer = exchange(sandbox, data, shutdown=True)
    assert status_of(answer) == 400
    assert b"Incomplete request" in answer


def test_head_cut_by_end_of_stream(sandbox: SandboxHandle) -> None:
    answer = exchange(sandbox, b"GET /_sandbox/health HTTP/1.1\r\nHost:", shutdown=True)
    assert status_of(answer) == 400


def test_body_over_10_mb_is_413_while_the_client_still_sends(sandbox: SandboxHandle) -> None:
    size = 10 * 1024 * 1024 + 1
    head = f"POST {API} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    with socket.create_connection(_address(sandbox), timeout=5) as sock:
        sock.sendall(head + b"[" * 65536)
        # The server answers at once and discards the rest; sending more must not reset the
        # connection before the answer is read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"[" * 1_000_000)
        answer = _read_answer(sock)
    assert status_of(answer) == 413


def test_connection_dropped_mid_body(sandbox: SandboxHandle) -> None:
    with socket.create_connection(_address(sandbox), timeout=5) as sock:
        sock.sendall(post(GOOD)[:-10])
    # nothing to read: the fixture checks that the server still serves


# ----------------------------------------------------------------- framing and head
@pytest.mark.parametrize(
    "data",
    [
        b"POST /api/v1.1/tasks/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nnot hex\r\n",
        b"POST /api/v1.1/tasks/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nab\r\n0\r\n\r\n",
        b"POST /api/v1.1/tasks/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        b"POST /api/v1.1/tasks/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
)
def test_transfer_encoding_is_411(sandbox: SandboxHandle, data: bytes) -> None:
    assert status_of(exchange(sandbox, data)) == 411


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET  /_sandbox/health HTTP/1.1\r\n\r\n",
        b"GET /_sandbox/health HTTP/1.1 extra\r\n\r\n",
        b"GET /_sandbox/health FOO/1.1\r\n\r\n",
        b"G@T /_sandbox/health HTTP/1.1\r\n\r\n",
        b"GET _sandbox/health HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS ClientHello's start
        b"\x00\xff\xfe\r\n\r\n",
    ],
)
def test_bad_request_line(sandbox: SandboxHandle, data: bytes) -> None:
    answer = exchange(sandbox, data)
    assert status_of(answer) == 400
    assert b"Malformed request line" in answer


@pytest.mark.parametrize(
    "header",
    [
        b"NoColonHere",
        b"Host : x",
        b": empty-name",
        b" folded continuation",
        b"Bad Name: x",
        b"X-\xff: y",
    ],
)
def test_bad_header_line(sandbox: SandboxHandle, header: bytes) -> None:
    data = b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n"
    answer = exchange(sandbox, data)
    assert status_of(answer) == 400
    assert b"Malformed header line" in answer


def test_head_over_64_kib_without_its_end_is_431(sandbox: SandboxHandle) -> None:
    data = b"GET /_sandbox/health HTTP/1.1\r\nX-Big: " + b"a" * 70_000
    assert status_of(exchange(sandbox, data)) == 431


def test_expect_100_continue(sandbox: SandboxHandle) -> None:
    head = (
        f"POST {API} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(GOOD)}\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(_address(sandbox), timeout=5) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(GOOD)
        answer = _read_answer(sock)
    assert status_of(answer) == 200


# ----------------------------------------------------------------- bodies
DEEP = b"[" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"token": "\xff\xfe"}', b"not valid UTF-8"),
        ('{"token": "é"}'.encode("latin-1"), b"not valid UTF-8"),
        ('{"token": "x"}'.encode("utf-16"), b"not valid UTF-8"),
        (b"\xef\xbb\xbf{}", b"Malformed JSON"),  # a UTF-8 byte order mark
        (b"{x", b"Malformed JSON"),
        (b'{"a": 1', b"Malformed JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", b"Malformed JSON"),  # int() digit limit
        (DEEP, b"nested too deeply"),
        (DEEP + b"]" * 100_000, b"nested too deeply"),
        (DEEP_OBJECT, b"nested too deeply"),
        (b'{"token": "\\ud800"}', b"unpaired UTF-16 surrogate"),
        (b'{"token": "x", "external_data": {"k": ["\\uDFFF"]}}', b"unpaired UTF-16 surrogate"),
        (b"[1]", b"must be a JSON object"),
        (b'"x"', b"must be a JSON object"),
        (b"1", b"must be a JSON object"),
        (b"null", b"must be a JSON object"),
        (b"true", b"must be a JSON object"),
    ],
)
def test_bad_api_body_is_http_400(sandbox: SandboxHandle, body: bytes, text: bytes) -> None:
    # HTTP 400 whatever app_error_http_status says: a malformed request, not an app error.
    answer = exchange(sandbox, post(body, extra=b"Connection: close\r\n"))
    assert status_of(answer) == 400
    envelope = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert envelope["error"] == 400 and envelope["data"] is None
    assert text.decode() in envelope["error_text"]


@pytest.mark.parametrize("path", ["/_sandbox/config", "/_sandbox/faults", "/_sandbox/seed"])
@pytest.mark.parametrize(
    "body",
    [b"\xff", DEEP, DEEP_OBJECT, b"{x", b'{"a": "\\ud800"}', b"[1]", b'"x"', b"1", b"null"],
)
def test_bad_control_body_is_400(sandbox: SandboxHandle, path: str, body: bytes) -> None:
    before = sandbox.config(), sandbox.faults(), len(sandbox.ledger()["transactions"])
    answer = exchange(sandbox, post(body, path=path, extra=b"Connection: close\r\n"))
    assert status_of(answer) == 400
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["ok"] is False
    assert (sandbox.config(), sandbox.faults(), len(sandbox.ledger()["transactions"])) == before


def test_every_answer_says_sandbox(sandbox: SandboxHandle) -> None:
    for data in (b"GARBAGE\r\n\r\n", post(b"[1]"), post(GOOD)):
        assert b"\r\nX-Altcraft-Sandbox: 1\r\n" in exchange(sandbox, data, shutdown=True)
    assert requests.get(sandbox.url + "/nowhere", timeout=5).headers["X-Altcraft-Sandbox"] == "1"
    assert (
        requests.get(sandbox.url + "/_sandbox/health", timeout=5).headers["X-Altcraft-Sandbox"]
        == "1"
    )


def test_garbage_storm_then_keep_alive_still_works(sandbox: SandboxHandle) -> None:
    for data in (b"\x00" * 1000 + b"\r\n\r\n", b"GET / HTTP/1.1\r\nX\r\n\r\n", DEEP):
        with socket.create_connection(_address(sandbox), timeout=5) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            _read_answer(sock)
    started = time.perf_counter()
    with requests.Session() as session:
        for _ in range(50):
            assert session.post(sandbox.url + API, data=GOOD, timeout=5).json()["error"] == 0
    assert time.perf_counter() - started < 10


def test_pipelined_requests_are_answered_in_order(sandbox: SandboxHandle) -> None:
    """Requests sent back to back without waiting (HTTP/1.1 pipelining) are answered one at a
    time, in order, on the same connection."""
    miss = json.dumps({"token": TOKEN, "task_id": "x"}).encode()
    data = (
        post(GOOD)
        + post(miss, path="/api/v1.1/tasks/status")
        + b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    answer = exchange(sandbox, data)
    parts = answer.split(b"HTTP/1.1 ")[1:]
    assert [part[:3] for part in parts] == [b"200", b"200", b"200"]
    assert b'"error":0' in parts[0]
    assert b"Task not found" in parts[1]
    assert b'{"ok":true}' in parts[2] and b"Connection: close" in parts[2]


def test_bytes_piled_up_behind_a_slow_answer_are_bounded(sandbox: SandboxHandle) -> None:
    """While a (fault-)delayed answer is pending, the server stops reading once more than a
    head and a body are buffered; then it answers in order and refuses the junk."""
    sandbox.set_faults([{"kind": "delay", "delay_ms": 500, "methods": ["tasks/status"]}])
    try:
        first = post(
            json.dumps({"token": TOKEN, "task_id": "x"}).encode(), path="/api/v1.1/tasks/status"
        )
        junk = b"J" * (12 * 1024 * 1024)
        with socket.create_connection(_address(sandbox), timeout=10) as sock:
            sock.sendall(first)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(junk)
            answer = _read_answer(sock)
    finally:
        sandbox.clear_faults()
    assert status_of(answer) == 200  # the delayed answer
    assert b'"error_text":"Task not found"' in answer
    assert answer.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 431 " in answer  # then the junk: no head end within 64 KiB


def test_a_surrogate_pair_escape_is_fine(sandbox: SandboxHandle) -> None:
    body = {**json.loads(GOOD), "amount": "1", "transaction_eid": "\U0001f600"}
    raw = json.dumps(body).encode()  # ensure_ascii: the eid is sent as "\ud83d\ude00"
    assert b"\\ud83d\\ude00" in raw
    answer = exchange(sandbox, post(raw, path="/api/v1.1/loyalty/redeeme_points"), shutdown=True)
    assert status_of(answer) == 200 and b'"error":0' in answer
    rows = sandbox.transactions(transaction_eid="\U0001f600")
    assert [t["transaction_eid"] for t in rows] == ["\U0001f600"]


@pytest.mark.parametrize(("levels", "status"), [(100, 200), (101, 400), (900, 400)])
def test_nesting_is_capped_at_100_levels(sandbox: SandboxHandle, levels: int, status: int) -> None:
    """Deep values the parser accepts would break the answers, the ledger dump and the state
    file (which wrap them in more levels): more than 100 levels is refused."""
    inner = levels - 2  # the body object and external_data are two levels
    deep = "[" * inner + "]" * inner
    raw = GOOD[:-1] + b', "amount": "1", "external_data": {"k": ' + deep.encode() + b"}}"
    answer = exchange(sandbox, post(raw, path="/api/v1.1/loyalty/redeeme_points"), shutdown=True)
    assert status_of(answer) == status
    if status == 400:
        assert b"nested too deeply" in answer
    assert len(sandbox.ledger()["transactions"]) > 0  # the dump still works
