"""The ``altcraft`` connection: its extra fields, their defaults, and how they are read.

One table drives the UI form on every Airflow version (provider info on 3.2+, the hook's
classmethods on 2.11) and the parser the hook uses, so a field is declared once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow_provider_altcraft.exceptions import AltcraftConfigError

TokenPlacement = Literal["header", "body"]


@dataclass(frozen=True)
class ExtraField:
    name: str
    label: str
    description: str
    type: Literal["number", "integer", "boolean", "string"]
    default: Any
    choices: tuple[str, ...] = ()


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField("timeout", "Read timeout (s)", "Seconds to wait for an answer.", "number", 30.0),
    ExtraField("connect_timeout", "Connect timeout (s)", "Seconds to wait for a connection.",
               "number", 10.0),
    ExtraField("verify", "Verify TLS", "Verify the server's TLS certificate.", "boolean", True),
    ExtraField("ca_bundle", "CA bundle path", "A CA bundle file to verify TLS with (optional).",
               "string", None),
    ExtraField("token_in", "Send the token in", "'header' (Authorization: Bearer) or 'body'.",
               "string", "header", ("header", "body")),
    ExtraField("max_retries", "Max retries", "Retries of a request that is safe to retry.",
               "integer", 3),
    ExtraField("backoff_base", "Backoff base (s)", "First retry delay; doubles each retry.",
               "number", 0.5),
    ExtraField("backoff_max", "Backoff max (s)", "Longest delay between two retries.",
               "number", 30.0),
    ExtraField("retry_after_max", "Retry-After cap (s)", "Longest Retry-After wait honoured.",
               "number", 60.0),
    ExtraField("max_requests_per_second", "Max requests per second",
               "Client-side rate limit shared by all threads of one hook (empty: none).",
               "number", None),
    ExtraField("pool_maxsize", "Connection pool size", "Keep-alive connections kept open.",
               "integer", 16),
)  # fmt: skip

HIDDEN_FIELDS = ["schema", "login"]
RELABELING = {"host": "API base URL", "password": "API token"}
PLACEHOLDERS = {
    "host": "https://example.altcraft.com (the hook adds /api/v1.1/)",
    "password": "Altcraft API token",
}


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook needs from the connection, parsed and checked once."""

    base_url: str
    token: str
    timeout: float = 30.0
    connect_timeout: float = 10.0
    verify: bool | str = True
    token_in: TokenPlacement = "header"
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    max_requests_per_second: float | None = None
    pool_maxsize: int = 16

    @classmethod
    def from_fields(
        cls,
        conn_id: str,
        *,
        host: str | None,
        port: int | None,
        schema: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> ConnectionSettings:
        def fail(field: str, problem: str) -> AltcraftConfigError:
            return AltcraftConfigError(f"Connection {conn_id!r}: {field} {problem}")

        if not password:
            raise fail("password", "is empty; put the Altcraft API token there")
        base_url = _base_url(host, port, schema)
        if base_url is None:
            raise fail("host", "is empty or not a URL; set it to https://<your-account-domain>")
        values: dict[str, Any] = {}
        for spec in EXTRA_FIELDS:
            raw = extra.get(spec.name, extra.get(f"extra__altcraft__{spec.name}"))
            if raw is None or raw == "":
                continue
            try:
                values[spec.name] = _coerce(spec, raw)
            except ValueError as exc:
                raise fail(f"extra {spec.name!r}", str(exc)) from None
        for name in ("timeout", "connect_timeout"):
            if name in values and values[name] <= 0:
                raise fail(f"extra {name!r}", "must be greater than 0 (there is no 'no timeout')")
        if values.get("max_retries", 0) < 0:
            raise fail("extra 'max_retries'", "must be 0 or more")
        rate = values.get("max_requests_per_second")
        if rate is not None and rate <= 0:
            raise fail("extra 'max_requests_per_second'", "must be greater than 0")
        ca_bundle = values.pop("ca_bundle", None)
        if ca_bundle and values.get("verify", True):
            values["verify"] = ca_bundle
        return cls(base_url=base_url, token=password, **values)


def _coerce(spec: ExtraField, raw: Any) -> Any:
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return str(raw).strip().lower() in ("true", "1", "yes")
        raise ValueError(f"is {raw!r}; expected true or false")
    if spec.type == "integer":
        if isinstance(raw, bool) or not str(raw).strip().lstrip("-").isdigit():
            raise ValueError(f"is {raw!r}; expected a whole number")
        return int(raw)
    if spec.type == "number":
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"is {raw!r}; expected a number") from None
    value = str(raw).strip()
    if spec.choices and value not in spec.choices:
        raise ValueError(f"is {raw!r}; expected one of {', '.join(spec.choices)}")
    return value


def _base_url(host: str | None, port: int | None, schema: str | None) -> str | None:
    """``https://domain[:port]`` from the host field; a trailing ``/api/v1.1`` is dropped."""
    if not host or not host.strip():
        return None
    text = host.strip()
    if "://" not in text:
        scheme = schema if schema in ("http", "https") else "https"
        text = f"{scheme}://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    for suffix in ("/api/v1.1", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme}://{netloc}{path}"


def provider_conn_fields() -> dict[str, Any]:
    """``conn-fields`` for the provider-info dict (Airflow 3.2+)."""
    fields: dict[str, Any] = {}
    for spec in EXTRA_FIELDS:
        schema: dict[str, Any] = {
            "type": [spec.type, "null"] if spec.default is None else spec.type
        }
        if spec.default is not None:
            schema["default"] = spec.default
        if spec.choices:
            schema["enum"] = list(spec.choices)
        fields[spec.name] = {"label": spec.label, "description": spec.description, "schema": schema}
    return fields
