"""The transport under :class:`~airflow_provider_altcraft.hooks.altcraft.AltcraftHook`: the
connection, one keep-alive session, the call loop, and the retry decision.

* Every call is a JSON POST to ``<host>/api/v1.1/<method>``; success is ``error == 0`` in the
  envelope, whatever the HTTP status says (Altcraft may answer an error with HTTP 200).
* Whether to retry is one pure function, :func:`decide`, of what happened (a transport error,
  sent or not; an HTTP status; ``Retry-After``), whether a resend is safe, and the retries
  left. Reads and state transitions are safe to send again; redeem and accrue add points each
  time they are applied, so after a request left this process without a clear answer it is
  never sent again: the caller gets :class:`AltcraftOutcomeUnknownError` and looks the
  transaction up by its ``transaction_eid``.
* No request or response body is logged: they carry e-mails, phones and the token.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_altcraft import __version__, metrics
from airflow_provider_altcraft.compat import BaseHook, mask_secret
from airflow_provider_altcraft.connection_fields import ConnectionSettings
from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftBadResponseError,
    AltcraftOutcomeUnknownError,
    AltcraftRateLimitError,
    AltcraftServerError,
    AltcraftTransportError,
)
from airflow_provider_altcraft.hooks.throttle import Throttle
from airflow_provider_altcraft.models import mask_personal_data
from airflow_provider_altcraft.validation import check_body_size

if TYPE_CHECKING:
    import requests

__all__ = ["AltcraftBaseHook", "Decision", "decide"]

API_PREFIX = "/api/v1.1/"
#: Altcraft's own code for a missing/invalid token, and "forbidden".
AUTH_ERROR_CODES = frozenset({401, 403})
#: Overload answers: the hook backs off. A 429 means "not processed" (even a redeem may be
#: sent again); a 503 only when the connection says so (``http_503_not_applied``: Altcraft does
#: not publish whether a gateway's 503 can follow an applied write).
OVERLOAD_STATUSES = frozenset({429, 503})
#: The header the provider's sandbox puts on every answer (sandbox.server.SANDBOX_HEADER; a
#: test keeps the two equal): test_connection warns that the connection is not Altcraft.
SANDBOX_HEADER_NAME = "X-Altcraft-Sandbox"


@dataclass(frozen=True)
class Decision:
    """What to do after one attempt.

    :param action: ``"retry"``; ``"outcome_unknown"`` (raise
        :class:`AltcraftOutcomeUnknownError`: it may have been applied and must not be sent
        again); ``"give_up"`` (a transport error and no retry left); ``"redirect"`` (never
        followed); ``"answer"`` (read the envelope: success or the typed error it stands for).
    :param pause_all: for a retry: honour ``Retry-After`` in every thread.
    :param shrink: for a retry: an overload without ``Retry-After``, cut the in-flight limit.
    :param maybe_applied: for a retry: the attempt may have been applied, so a later "already
        done" refusal means it was.
    """

    action: Literal["retry", "outcome_unknown", "give_up", "redirect", "answer"]
    pause_all: bool = False
    shrink: bool = False
    maybe_applied: bool = False


def decide(
    *,
    status: int | None,
    sent: bool,
    resend_safe: bool,
    retries_left: int,
    has_retry_after: bool,
    http_503_not_applied: bool,
) -> Decision:
    """The retry decision, pure.

    :param status: the answer's HTTP status; None for a transport error.
    :param sent: for a transport error: the request may have reached the server.
    :param resend_safe: applying the request twice is harmless (reads, state changes).
    :param retries_left: how many more attempts the connection allows.
    :param has_retry_after: the answer carries a ``Retry-After``.
    :param http_503_not_applied: the connection's extra: a 503 means "not processed".
    """
    if status is None:
        if sent and not resend_safe:
            return Decision("outcome_unknown")
        if retries_left <= 0:
            return Decision("give_up")
        return Decision("retry", maybe_applied=sent)
    if 300 <= status < 400:
        return Decision("redirect")
    if status == 429 or status >= 500:
        not_processed = status == 429 or (status == 503 and http_503_not_applied)
        if not not_processed and not resend_safe:
            return Decision("outcome_unknown")
        if retries_left > 0:
            overload = status in OVERLOAD_STATUSES
            return Decision(
                "retry",
                pause_all=overload and has_retry_after,
                shrink=overload and not has_retry_after,
                maybe_applied=not not_processed,
            )
    return Decision("answer")


class AltcraftBaseHook(BaseHook):
    """The connection, the session and the call loop; the API methods are the subclass's.

    :param altcraft_conn_id: the Airflow connection (type ``altcraft``) to use.
    :param pool_maxsize: keep-alive connections to keep (default: the connection's extra);
        a batch sizes it to its threads.
    :param max_requests_per_second: a client-side rate cap for this hook (default: the
        connection's extra; none).
    """

    #: Whether the last answer came from the provider's sandbox (its header said so).
    answered_by_sandbox = False

    def __init__(
        self,
        altcraft_conn_id: str = "altcraft_default",
        *,
        pool_maxsize: int | None = None,
        max_requests_per_second: float | None = None,
    ) -> None:
        super().__init__()
        self.altcraft_conn_id = altcraft_conn_id
        # Per-task overrides of the connection's extras: a batch sizes the keep-alive pool to
        # its threads and may cap its own rate.
        self._overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("pool_maxsize", pool_maxsize),
                ("max_requests_per_second", max_requests_per_second),
            )
            if value is not None
        }

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection, read once on first use (never in ``__init__``: DAG parsing)."""
        conn = self.get_connection(self.altcraft_conn_id)
        if conn.password:
            mask_secret(conn.password)
        settings = ConnectionSettings.from_fields(
            self.altcraft_conn_id,
            host=conn.host,
            port=conn.port,
            schema=conn.schema,
            password=conn.password,
            extra=conn.extra_dejson,
        )
        if settings.token != conn.password:
            mask_secret(settings.token)  # the password less surrounding whitespace
        return dataclasses.replace(settings, **self._overrides) if self._overrides else settings

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session per hook, shared by the threads of a batch."""
        import requests
        import requests.utils
        from requests.adapters import HTTPAdapter

        settings = self.settings
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_maxsize, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = settings.verify
        session.headers["User-Agent"] = f"airflow-provider-altcraft/{__version__}"
        if settings.auth_placement == "header":
            session.headers["Authorization"] = f"Bearer {settings.token}"
        # With trust_env, requests re-reads proxy variables from os.environ on every request:
        # a quarter of a loopback request's CPU under Airflow's large environment (profiled).
        # Read them once instead; this also skips ~/.netrc, which could replace the token.
        session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
        if session.verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            session.verify = bundle or True
        session.trust_env = False
        return session

    @cached_property
    def _throttle(self) -> Throttle:
        return Throttle(self.settings.max_requests_per_second, self.settings.pool_maxsize)

    def limit_in_flight(self, requests: int) -> None:
        """At most ``requests`` requests of this hook in flight at once, from any thread
        (default: the connection pool's size); the limit adapts below it under overload.

        :param requests: the most requests in flight at once (at least 1).
        """
        self._throttle.cap(requests)

    def close(self) -> None:
        """Close pooled connections (the hook can be used again afterwards)."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    def _call(
        self,
        endpoint: str,
        payload: Mapping[str, Any],
        *,
        resend_safe: bool,
        transaction_eid: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST ``payload`` to ``endpoint`` and return the checked envelope.

        :param endpoint: the API method, e.g. ``loyalty/account/balance``.
        :param payload: the JSON body (the token is added when it travels in the body).
        :param resend_safe: whether applying the request twice is harmless (see
            :func:`decide`).
        :param transaction_eid: named in an :class:`AltcraftOutcomeUnknownError`.
        :param token: replaces the connection's (the connection test sends a made-up one).
        """
        import requests

        settings = self.settings
        url = settings.base_url + API_PREFIX + endpoint
        body = dict(payload)
        headers = {"Content-Type": "application/json"}
        if settings.auth_placement == "body":
            body["token"] = token or settings.token
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        check_body_size(data)
        attempt = 0
        # Whether an earlier attempt may have been applied without an answer reaching us.
        earlier_attempt_lost = False
        while True:
            attempt += 1
            retries_left = settings.max_retries - attempt + 1
            response: requests.Response | None = None
            reason = ""
            sent = True
            try:
                with self._throttle.in_flight() as generation:
                    # Paced inside the place: a pause ordered while this thread waited for a
                    # place still holds it back.
                    self._throttle.wait()
                    started = time.monotonic()
                    response = self.session.post(
                        url,
                        data=data,
                        headers=headers,
                        timeout=(settings.connect_timeout, settings.timeout),
                        # A redirect would re-send the body (the token too, when it travels
                        # there) to another origin, and its "success" would be believed.
                        allow_redirects=False,
                    )
            except requests.RequestException as exc:
                elapsed = time.monotonic() - started
                reason, sent = _describe_transport_error(exc), _request_was_sent(exc)
                failure: BaseException | None = exc
            else:
                elapsed = time.monotonic() - started
                failure = None
                self.answered_by_sandbox = SANDBOX_HEADER_NAME in response.headers
                self.log.debug(
                    "Altcraft %s -> HTTP %s in %.0f ms",
                    endpoint, response.status_code, elapsed * 1000,
                )  # fmt: skip
                if response.status_code in OVERLOAD_STATUSES:
                    metrics.incr(
                        "request.throttled",
                        tags={"endpoint": endpoint, "status": str(response.status_code)},
                    )
            retry_after = None if response is None else self._retry_after(response)
            decision = decide(
                status=None if response is None else response.status_code,
                sent=sent,
                resend_safe=resend_safe,
                retries_left=retries_left,
                has_retry_after=retry_after is not None,
                http_503_not_applied=settings.http_503_not_applied,
            )
            what = reason if response is None else f"HTTP {response.status_code}"
            if decision.action != "answer":
                _record_attempt(endpoint, _ATTEMPT_OUTCOMES[decision.action], elapsed)
            if decision.action == "outcome_unknown":
                raise AltcraftOutcomeUnknownError(endpoint, what, transaction_eid) from failure
            if decision.action == "give_up":
                raise AltcraftTransportError(
                    endpoint, f"{reason} (after {attempt} attempts)"
                ) from failure
            if decision.action == "redirect":
                assert response is not None
                raise AltcraftBadResponseError(
                    endpoint,
                    http_status=response.status_code,
                    error_code=None,
                    error_text=(
                        "answered with a redirect, which is not followed; set the connection's "
                        "host to the account's API base URL (https://<account-domain>)"
                    ),
                )
            if decision.action == "retry":
                delay = self._backoff(attempt) if retry_after is None else retry_after
                if decision.pause_all:
                    self._throttle.pause(delay)  # as asked: every thread waits
                if decision.shrink:
                    self._throttle.overloaded(generation)  # fewer in flight; this one backs off
                earlier_attempt_lost = earlier_attempt_lost or decision.maybe_applied
                metrics.incr("request.retries", tags={"endpoint": endpoint})
                self.log.warning(
                    "Altcraft %s: %s; retrying in %.1f s (%d left)",
                    endpoint, what, delay, retries_left,
                )  # fmt: skip
                time.sleep(delay)
                continue
            assert response is not None
            self._throttle.succeeded()
            try:
                envelope = _check_envelope(
                    endpoint, response, self.altcraft_conn_id, settings.token
                )
            except AltcraftBadResponseError as exc:
                if not resend_safe and response.status_code < 400:
                    # An answer that is not Altcraft's envelope says nothing about whether the
                    # points moved.
                    _record_attempt(endpoint, "unknown", elapsed)
                    raise AltcraftOutcomeUnknownError(
                        endpoint, exc.error_text, transaction_eid
                    ) from exc
                _record_attempt(endpoint, "error", elapsed)
                exc.earlier_attempt_lost = earlier_attempt_lost
                raise
            except AltcraftApiError as exc:
                _record_attempt(endpoint, "refused", elapsed)
                exc.earlier_attempt_lost = earlier_attempt_lost
                raise
            _record_attempt(endpoint, "ok", elapsed)
            return envelope

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so parallel workers do not retry in lockstep."""
        settings = self.settings
        ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    def _retry_after(self, response: requests.Response) -> float | None:
        """The answer's ``Retry-After`` in seconds (capped by the connection), or None."""
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return None if retry_after is None else min(retry_after, self.settings.retry_after_max)


# -- helpers (module level: pure functions, easy to test) ---------------------------------------

#: The ``outcome`` tag of an attempt, by the decision that ended it (an ``answer`` is ``ok``,
#: ``refused`` or, when it is not Altcraft's envelope, ``error``/``unknown``).
_ATTEMPT_OUTCOMES: dict[str, str] = {
    "retry": "retry",
    "outcome_unknown": "unknown",
    "give_up": "error",
    "redirect": "error",
}


def _record_attempt(endpoint: str, outcome: str, seconds: float) -> None:
    """The two metrics of every HTTP attempt: its duration and its outcome."""
    tags = {"endpoint": endpoint, "outcome": outcome}
    metrics.timing("request.duration", seconds, tags=tags)
    metrics.incr("request.count", tags=tags)


def _check_envelope(
    endpoint: str, response: requests.Response, conn_id: str, token: str
) -> dict[str, Any]:
    """Return the envelope of a response, or raise the typed error it stands for (its text
    scrubbed of the token and of e-mails and phones that a server may echo)."""
    status = response.status_code
    try:
        envelope = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "error" not in envelope:
        error_class = _error_class(status, None)
        if error_class is AltcraftApiError:
            error_class = AltcraftBadResponseError
        raise error_class(
            endpoint,
            http_status=status,
            error_code=None,
            # The body is not quoted: it may echo personal data.
            error_text=(
                f"answer is not an Altcraft JSON envelope "
                f"({response.headers.get('Content-Type', 'no content type')}, "
                f"{len(response.content)} bytes)"
            ),
        )
    try:
        code = int(envelope["error"])
    except (TypeError, ValueError):
        raise AltcraftBadResponseError(
            endpoint, http_status=status, error_code=None, error_text="'error' is not a number"
        ) from None
    if code == 0 and status < 400:
        return envelope
    error_class = _error_class(status, code)
    hint = None
    if error_class is AltcraftAuthError:
        hint = f"Check the API token (password) of Airflow connection {conn_id!r}"
    elif error_class is AltcraftApiError and (code == 400 or status == 400):
        hint = "Altcraft rejected the request; this is not retried"
    raise error_class(
        endpoint,
        http_status=status,
        error_code=code if code else None,
        error_text=mask_personal_data(_scrub(str(envelope.get("error_text") or ""), token)),
        hint=hint,
    )


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _error_class(status: int, code: int | None) -> type[AltcraftApiError]:
    # Altcraft may put an HTTP-like code in the envelope of an HTTP 200 answer: use either.
    codes = {status, code}
    if codes & AUTH_ERROR_CODES:
        return AltcraftAuthError
    if 429 in codes:
        return AltcraftRateLimitError
    if any(c is not None and 500 <= c <= 599 for c in codes):
        return AltcraftServerError
    return AltcraftApiError


def _data_object(endpoint: str, envelope: Mapping[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise AltcraftBadResponseError(
            endpoint, http_status=200, error_code=0, error_text="'data' is not an object"
        )
    return data


def _data_list(endpoint: str, envelope: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = envelope.get("data")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise AltcraftBadResponseError(
            endpoint, http_status=200, error_code=0, error_text="'data' is not a list of objects"
        )
    return data


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _request_was_sent(exc: Exception) -> bool:
    """False only when the request surely never reached the server (connect phase)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate is verified in the handshake, before anything is sent; other TLS
        # errors can also break the reading of an answer to a request already sent.
        return not _caused_by(exc, ssl.SSLCertVerificationError)
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return False
    return True


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain of causes of ``exc`` (requests and urllib3 wrap
    errors both in ``args`` and in ``__cause__``/``reason``)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(current.args)
    return False


def _describe_transport_error(exc: Exception) -> str:
    """A short, token-free description (requests' messages can be long and nested)."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if not _request_was_sent(exc) else "connection dropped"
    return type(exc).__name__
