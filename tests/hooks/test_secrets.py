"""Where the token goes, and where it (and personal data) never goes: logs and errors."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.exceptions import (
    AltcraftAuthError,
    AltcraftError,
    AltcraftOutcomeUnknownError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN
from tests.hooks.conftest import (
    ANN,
    BALANCE,
    PROGRAM,
    REDEEM,
    MakeHook,
    api_calls,
    closed_port_url,
)

WRONG_TOKEN = "wrong-token-9e8d7c6b5a"

Seen = list[tuple[dict[str, str], dict[str, Any]]]


class _RecordingHandler(BaseHTTPRequestHandler):
    """Records headers and JSON body, answers like a successful balance call."""

    seen: Seen

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((dict(self.headers), body))
        data = {"total_balance": "1.00", "active_balance": "1.00"}
        reply = json.dumps({"error": 0, "error_text": "Successful operation", "data": data})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, Seen]]:
    """A plain HTTP server that records what the hook sends.

    Not a mock of a library: the hook talks real HTTP to it. It exists because the sandbox
    accepts the token in either place and, by design, logs neither headers nor bodies.
    """
    seen: Seen = []
    handler = type("Handler", (_RecordingHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("token_in", ["header", "body"])
def test_token_is_sent_in_the_configured_place_only(
    make_hook: MakeHook, recorder: tuple[str, Seen], token_in: str
) -> None:
    url, seen = recorder
    hook = make_hook("altcraft_recorder", url=url, auth_placement=token_in)

    hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    [(headers, body)] = seen
    if token_in == "header":
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert "token" not in body
    else:
        assert "Authorization" not in headers
        assert body["token"] == TOKEN
    assert body["matching"] == "email"


@pytest.mark.parametrize("token_in", ["header", "body"])
def test_sandbox_accepts_the_token_and_refuses_a_wrong_one_in_each_place(
    make_hook: MakeHook, sandbox: SandboxHandle, token_in: str
) -> None:
    good = make_hook("altcraft_good", auth_placement=token_in)
    bad = make_hook("altcraft_bad", token=WRONG_TOKEN, auth_placement=token_in)

    assert good.get_balance(loyalty_program_id=PROGRAM, matching=ANN).total_balance == 500
    with pytest.raises(AltcraftAuthError):
        bad.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert [entry["error"] for entry in api_calls(sandbox, BALANCE)] == [0, 401]


def _expect_error(errors: list[BaseException], call: Callable[[], object]) -> None:
    try:
        call()
    except AltcraftError as exc:
        errors.append(exc)
    else:
        pytest.fail("the call was expected to fail")


def _exercise(hook: AltcraftHook, sandbox: SandboxHandle, tmp: Path) -> list[BaseException]:
    """Successes, retries and failures of every kind; returns the errors raised."""
    errors: list[BaseException] = []

    def redeem(eid: str, amount: str = "1.00") -> PointsRequest:
        return PointsRequest.build(
            "redeem",
            loyalty_program_id=PROGRAM,
            amount=amount,
            matching=ANN,
            transaction_eid=f"{hook.altcraft_conn_id}-{eid}",
        )

    sandbox.set_faults(
        [
            {"kind": "http_503", "methods": [BALANCE], "max_count": 2},
            {"kind": "http_429", "methods": [REDEEM], "max_count": 1},
            {"kind": "drop_before", "methods": [REDEEM], "max_count": 1},
        ]
    )
    hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)  # 503, 503, ok
    with pytest.raises(AltcraftOutcomeUnknownError) as lost:
        hook.send_points_request_once(redeem("leak-1"))  # 429, drop, lookup: not found
    errors.append(lost.value)
    hook.send_points_request_once(redeem("leak-1"), check_existing=True)  # the next try
    sandbox.set_faults([{"kind": "http_500", "methods": [REDEEM]}])
    _expect_error(errors, lambda: hook.send_points_request(redeem("leak-2")))  # outcome unknown
    sandbox.clear_faults()
    _expect_error(errors, lambda: hook.send_points_request(redeem("leak-3", amount="9999.00")))
    nobody = Matching.by_email("zed@example.com")
    _expect_error(errors, lambda: hook.get_balance(loyalty_program_id=PROGRAM, matching=nobody))
    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM, points_currency_eid="stars", date_from="2024-01-01",
        date_to="2024-12-31",
    )  # fmt: skip
    while not (status := hook.get_task_status(task_id)).is_completed:
        assert not status.is_failed
        time.sleep(0.05)
    hook.download_file(status.urls[0], tmp / "export.csv")
    _expect_error(errors, lambda: hook.download_file("/api/download/nope/x.csv", tmp / "x.csv"))
    return errors


def test_token_and_emails_never_reach_logs_or_errors(
    make_hook: MakeHook,
    sandbox: SandboxHandle,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    test_messages: list[str] = []
    for token_in in ("header", "body"):
        hook = make_hook(f"altcraft_{token_in}", auth_placement=token_in)
        errors += _exercise(hook, sandbox, tmp_path)
        for failing in (
            make_hook(f"altcraft_wrong_{token_in}", token=WRONG_TOKEN, auth_placement=token_in),
            make_hook(
                f"altcraft_refused_{token_in}", url=closed_port_url(), auth_placement=token_in
            ),
        ):
            _expect_error(
                errors, partial(failing.get_balance, loyalty_program_id=PROGRAM, matching=ANN)
            )
            test_messages.append(failing.test_connection()[1])

    captured = capfd.readouterr()
    error_texts = [
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc.args)
        for exc in errors
    ]
    everything = "\n".join([caplog.text, captured.out, captured.err, *error_texts, *test_messages])
    # The run did what it should, so the absence checks below are not vacuous.
    assert len(errors) == 2 * 7
    assert "retrying in" in everything and "outcome unknown" in everything
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("498.00")
    for secret in (TOKEN, WRONG_TOKEN, "ann@example.com", "zed@example.com"):
        assert secret not in everything
