"""The sandbox application: routing, token check, envelopes, faults and the request log.

It glues the generic HTTP server (:mod:`.http`) to the Altcraft handlers (:mod:`.api`) and
the test-control endpoints (:mod:`.control`). Request bodies and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import copy
import sys
import threading
import traceback
from collections import deque
from typing import Any

from airflow_provider_altcraft.sandbox.api import HANDLERS
from airflow_provider_altcraft.sandbox.body import MAX_JSON_DEPTH, BadBody, parse_json_body
from airflow_provider_altcraft.sandbox.config import SandboxConfig
from airflow_provider_altcraft.sandbox.control import handle_control
from airflow_provider_altcraft.sandbox.faults import FaultDecision, Faults
from airflow_provider_altcraft.sandbox.http import Request, Response, json_response
from airflow_provider_altcraft.sandbox.inflight import InFlight, instrument
from airflow_provider_altcraft.sandbox.ledger import Ledger
from airflow_provider_altcraft.sandbox.persistence import Journal, journal_record
from airflow_provider_altcraft.sandbox.values import ApiError

# BadBody, parse_json_body and MAX_JSON_DEPTH live in .body (control uses them too); kept
# importable from here.
__all__ = ["API_PREFIX", "MAX_JSON_DEPTH", "BadBody", "SandboxApp", "parse_json_body"]

API_PREFIX = "/api/v1.1/"
DOWNLOAD_PREFIX = "/api/download/"
OK_TEXT = "Successful operation"
REQUEST_LOG_LIMIT = 100_000  # entries kept; "count" keeps counting past it

_FAULT_STATUS = {"http_500": 500, "http_503": 503, "http_429": 429}
_FAULT_TEXT = {
    "http_500": "Internal server error (injected fault)",
    "http_503": "Service unavailable (injected fault)",
    "http_429": "Too many requests (injected fault)",
}


class SandboxApp:
    """State of one sandbox plus the request entry point :meth:`handle`."""

    def __init__(
        self,
        *,
        token: str,
        seed: dict[str, Any] | None = None,
        config: SandboxConfig | None = None,
    ) -> None:
        self.token = token
        self.reset_seed = copy.deepcopy(seed)  # the target of POST /_sandbox/reset
        self.ledger = Ledger(seed)
        self.startup_config = config or SandboxConfig()
        self.config = self.startup_config
        self.faults = Faults()
        self._log_lock = threading.Lock()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self.request_count = 0
        self._bearer = f"Bearer {token}"
        # Durable mode (set by the server): API writes are journaled and answered once synced.
        self.journal: Journal | None = None
        self._control = handle_control
        # API requests being answered and their peak: GET /_sandbox/inflight (sandbox/inflight.py).
        self.inflight: InFlight = instrument(self)

    # ------------------------------------------------------------------ state helpers
    def reset(self) -> None:
        """Back to the reset seed; clears faults, the request log and config overrides."""
        self.ledger.load_seed(self.reset_seed)
        self.faults.clear()
        self.config = self.startup_config
        self.clear_requests()

    def clear_requests(self) -> None:
        with self._log_lock:
            self.request_log.clear()
            self.request_count = 0

    def logged_requests(self) -> tuple[list[dict[str, Any]], int]:
        """The request log's entries (the last :data:`REQUEST_LOG_LIMIT`) and the count of
        every request logged since the last clear."""
        with self._log_lock:
            return list(self.request_log), self.request_count

    def _log(
        self, method: str, path: str, status: int | None, error: int | None, fault: str | None
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "http_status": status,
            "error": error,
            "fault": fault,
        }
        with self._log_lock:
            self.request_log.append(entry)
            self.request_count += 1

    # ------------------------------------------------------------------ entry point
    def handle(self, request: Request) -> Response | Any:
        path = request.path
        if path.startswith("/api/"):
            if path.startswith(DOWNLOAD_PREFIX):
                method = "download"
            elif path.startswith(API_PREFIX):
                method = path[len(API_PREFIX) :]
            else:  # e.g. another API version: answered as an unknown method
                method = path[len("/api/") :]
            decision = self.faults.decide(method)
            if decision.delay_s or decision.kind is not None:
                return self._faulty(request, method, decision)
            response = self._api(request, method)
            if self.journal is not None and self.journal.pending:
                return self._when_durable(response)
            return response
        if path.startswith("/_sandbox/"):
            if self.journal is None:
                return self._control(self, request)
            before = self.journal.store.fingerprint(self)
            response = self._control(self, request)
            if request.method == "POST" and self.journal.store.fingerprint(self) != before:
                return self._when_durable(response, snapshot=True)  # reset, seed, config
            if self.journal.pending:  # never show a write that could still be lost
                return self._when_durable(response)
            return response
        return json_response(404, {"error": 404, "error_text": "Not found", "data": None})

    async def _durable(self, snapshot: bool = False) -> bool:
        """Durable mode: wait until the writes made so far are on disk; False if they can't be."""
        if self.journal is None:
            return True
        try:
            await (self.journal.snapshot() if snapshot else self.journal.wait())
        except OSError:
            return False
        return True

    async def _when_durable(self, response: Response, snapshot: bool = False) -> Response:
        if await self._durable(snapshot):
            return response
        # The write is applied in memory but could not be made durable: not acknowledged.
        payload = {"error": 500, "error_text": "State file could not be written", "data": None}
        return json_response(500, payload)

    async def _faulty(self, request: Request, method: str, decision: FaultDecision) -> Response:
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)  # never blocks other connections
        kind = decision.kind
        if kind == "drop_before":
            self._log(method, request.path, None, None, kind)
            return Response(0, drop=True)
        if kind == "drop_after":
            self._api(request, method, fault=kind)  # applied to the ledger, answer lost
            await self._durable()
            return Response(0, drop=True)
        if kind == "malformed_after":
            self._api(request, method, fault=kind)  # applied, then a "success" without facts
            await self._durable()
            return json_response(200, {"error": 0, "error_text": OK_TEXT, "data": decision.data})
        if kind in _FAULT_STATUS:
            status = _FAULT_STATUS[kind]
            headers = []
            if kind in ("http_429", "http_503") and decision.retry_after is not None:
                headers.append(("Retry-After", str(decision.retry_after)))
            self._log(method, request.path, status, status, kind)
            payload = {"error": status, "error_text": _FAULT_TEXT[kind], "data": None}
            return json_response(status, payload, headers=headers)
        response = self._api(request, method, fault="delay")
        return await self._when_durable(response)

    def _api(self, request: Request, method: str, fault: str | None = None) -> Response:
        if method == "download":
            response = self._download(request)
            error = 0 if response.status == 200 else response.status
            self._log(method, request.path, response.status, error, fault)
            return response
        error = 0
        try:
            if request.method != "POST":
                raise ApiError(405, "Method not allowed: use POST")
            handler = HANDLERS.get(method)
            if handler is None:
                raise ApiError(400, "Unknown method")
            body = self._body(request)
            in_header = (
                self.config.auth_header == "accept"
                and request.headers.get("authorization") == self._bearer
            )
            if not in_header and body.get("token") != self.token:
                raise ApiError(401, "API token required")
            envelope: dict[str, Any] = {"error": 0, "error_text": OK_TEXT}
            envelope.update(handler(self.ledger, self.config, body))
            status = 200
            if self.journal is not None:
                self._journal(method, body, envelope)
        except ApiError as exc:
            error = exc.code
            envelope = {"error": exc.code, "error_text": exc.text, "data": exc.data}
            status = 400 if isinstance(exc, BadBody) else self._app_error_status(exc.code)
        except Exception:  # a bug must become an envelope, never a dead server
            traceback.print_exc(file=sys.stderr)
            error = status = 500
            envelope = {"error": 500, "error_text": "Internal server error", "data": None}
        self._log(method, request.path, status, error, fault)
        return json_response(status, envelope)

    def _journal(self, method: str, body: dict[str, Any], envelope: dict[str, Any]) -> None:
        assert self.journal is not None
        record = journal_record(self.ledger, method, body, envelope)
        if record is not None:
            self.journal.append(record)

    def _app_error_status(self, code: int) -> int:
        if code == 405:
            return 405  # protocol misuse, not an application error
        if self.config.app_error_http_status == "mapped" and 400 <= code < 500:
            return code
        return 200

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = parse_json_body(request.body)
        if not isinstance(body, dict):
            raise BadBody("Request body must be a JSON object")
        return body

    def _download(self, request: Request) -> Response:
        # Downloads answer with real HTTP statuses: the body is a file, not an envelope.
        def fail(code: int, text: str) -> Response:
            return json_response(code, {"error": code, "error_text": text, "data": None})

        if request.method != "GET":
            return fail(405, "Method not allowed: use GET")
        if request.headers.get("authorization") != self._bearer:
            return fail(401, "API token required")
        parts = request.path[len(DOWNLOAD_PREFIX) :].split("/")
        if len(parts) != 2:
            return fail(404, "File not found")
        try:
            data = self.ledger.download(parts[0], parts[1])
        except ApiError as exc:
            return fail(exc.code, exc.text)
        return Response(
            200,
            data,
            content_type="text/csv; charset=utf-8",
            headers=[("Content-Disposition", f'attachment; filename="{parts[1]}"')],
        )
