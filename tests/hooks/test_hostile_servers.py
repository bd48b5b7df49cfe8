"""A server that redirects, echoes the token, or is overloaded: the hook stays safe.

The redirecting and echoing servers are small real HTTP servers on loopback (the sandbox
neither redirects nor echoes tokens, by design); the hook talks real HTTP to them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftBadResponseError,
    AltcraftConfigError,
)
from airflow_provider_altcraft.hooks.throttle import Throttle
from airflow_provider_altcraft.models import PointsRequest
from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.server_profile import PROFILE_FORMAT
from tests.conftest import TOKEN
from tests.hooks.conftest import ANN, PROGRAM, REDEEM, MakeHook, api_calls

Answer = Callable[[BaseHTTPRequestHandler, dict[str, Any]], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], str]]:
    """``serve(answer)``: a loopback HTTP server whose POSTs ``answer`` handles; its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                answer(self, json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], **headers: str):
    data = json.dumps(body).encode()
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_with_the_body(
    make_hook: MakeHook, sandbox: SandboxHandle, serve: Callable[[Answer], str], status: int
) -> None:
    # The redirect points at the real sandbox: following it would apply the redemption there.
    location = f"{sandbox.url}/api/v1.1/{REDEEM}"
    url = serve(lambda h, body: _reply(h, status, {}, Location=location))
    hook = make_hook("altcraft_redirecting", url=url)
    request = PointsRequest.build(
        "redeem", loyalty_program_id=PROGRAM, amount="5", matching=ANN, transaction_eid="redir",
        points_currency_eid="stars",
    )  # fmt: skip

    with pytest.raises(AltcraftBadResponseError, match="redirect, which is not followed"):
        hook.send_points_request(request)

    assert api_calls(sandbox, REDEEM) == []
    assert sandbox.balance(PROGRAM, "p-1", "stars")["active_balance"] == Decimal("500.00")


def test_a_server_echoing_the_token_never_gets_it_into_a_message(
    make_hook: MakeHook, serve: Callable[[Answer], str]
) -> None:
    def echo(handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = f"Bad token {body.get('token')} for user ann@example.com"
        _reply(handler, 200, {"error": 400, "error_text": text, "data": None})

    hook = make_hook("altcraft_echo", url=serve(echo))

    with pytest.raises(AltcraftApiError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    message = str(caught.value)
    assert TOKEN not in message and "***" in message
    assert "ann@example.com" not in message


def test_the_in_flight_limit_shrinks_on_overload_and_grows_back_on_success() -> None:
    throttle = Throttle(None, max_in_flight=16)

    throttle.overloaded()
    throttle.overloaded()
    assert throttle.limit == 9  # 16 * 0.75 * 0.75
    for _ in range(9 + 10 + 11):  # about one more place per round trip of successes
        throttle.succeeded()
    assert 11 <= throttle.limit <= 12
    for _ in range(1000):
        throttle.succeeded()
    assert throttle.limit == 16  # never above the pool
    for _ in range(20):
        throttle.overloaded()
    assert throttle.limit == 1  # never below one


def test_answers_to_requests_sent_before_a_cut_do_not_cut_again() -> None:
    throttle = Throttle(None, max_in_flight=16)
    with throttle.in_flight() as first, throttle.in_flight() as second:
        throttle.overloaded(first)
        throttle.overloaded(second)  # the same round trip: no second cut
    assert throttle.limit == 12
    with throttle.in_flight() as later:
        throttle.overloaded(later)
    assert throttle.limit == 9


def test_the_in_flight_limit_is_enforced_across_threads() -> None:
    throttle = Throttle(None, max_in_flight=8)
    throttle.overloaded()
    throttle.overloaded()
    throttle.overloaded()  # 8 * 0.75 ** 3 = 3.4: 3 places
    inside, peak, lock, release = 0, 0, threading.Lock(), threading.Event()

    def request() -> None:
        nonlocal inside, peak
        with throttle.in_flight():
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(2)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.2)
    with lock:
        assert inside == 3
    release.set()
    for thread in threads:
        thread.join(5)
    assert peak == 3


def test_a_server_profile_teaches_the_hook_its_wording_of_already_committed(
    make_hook: MakeHook, serve: Callable[[Answer], str], tmp_path: Path
) -> None:
    # A server that words "already committed" its own way (measured by altcraft-probe).
    def closed(handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = f"Transaction {body.get('transaction_id')} was closed earlier"
        _reply(handler, 200, {"error": 1207, "error_text": text, "data": None})

    url = serve(closed)
    profile = tmp_path / "server.json"
    fact = {"refused": True, "error": 1207, "http_status": 200,
            "error_text": "Transaction <transaction_id> was closed earlier"}  # fmt: skip
    profile.write_text(json.dumps({
        "format": PROFILE_FORMAT, "facts": {"already_committed": {"known": True, "value": fact}},
    }))  # fmt: skip
    plain = make_hook("altcraft_plain", url=url)
    taught = make_hook("altcraft_taught", url=url, server_profile=str(profile))

    with pytest.raises(AltcraftApiError, match="closed earlier"):
        plain.commit_transaction(transaction_id="t-1", retried=True)
    assert taught.commit_transaction(transaction_id="t-1", retried=True).balance is None
    with pytest.raises(AltcraftApiError):  # not a retry: still a real refusal
        taught.commit_transaction(transaction_id="t-1")


def test_an_unreadable_server_profile_is_a_clear_connection_error(
    make_hook: MakeHook, tmp_path: Path
) -> None:
    hook = make_hook("altcraft_bad_profile", server_profile=str(tmp_path / "missing.json"))

    with pytest.raises(AltcraftConfigError, match="extra 'server_profile'"):
        hook.commit_transaction(transaction_id="t-1", retried=True)
