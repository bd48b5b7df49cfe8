"""Run-time options of the sandbox (``GET``/``POST /_sandbox/config``).

They cover behaviours of the real Altcraft API that are unknown, so tests can exercise a
client against each plausible variant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["ConfigError", "SandboxConfig"]


class ConfigError(ValueError):
    """Invalid configuration option or value."""


@dataclass(frozen=True)
class SandboxConfig:
    # "accept": a second transaction with the same transaction_eid is created (default);
    # "refuse": it is refused with error 409 "Duplicate transaction_eid".
    duplicate_eid: str = "accept"
    # "200": application errors come with HTTP 200 (as the real API may do; default);
    # "mapped": HTTP status = the envelope's error code when it is a 4xx.
    app_error_http_status: str = "200"
    # Seconds before an export task is completed (or failed).
    export_delay_sec: float = 0.3
    # "ok" | "fail" | "stuck": how export tasks end.
    export_mode: str = "ok"
    # Auto-rollback timeout of a temporary transaction sent without temp_timeout_sec.
    default_temp_timeout_sec: int = 3600

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: object) -> SandboxConfig:
        """A copy with ``changes`` applied; every value is validated, nothing applied on error."""
        if not isinstance(changes, dict):
            raise ConfigError("body must be a JSON object of options")
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; known: {sorted(names)}")
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "duplicate_eid":
                if value not in ("accept", "refuse"):
                    raise ConfigError("duplicate_eid must be 'accept' or 'refuse'")
            elif key == "app_error_http_status":
                value = str(value)
                if value not in ("200", "mapped"):
                    raise ConfigError("app_error_http_status must be '200' or 'mapped'")
            elif key == "export_mode":
                if value not in ("ok", "fail", "stuck"):
                    raise ConfigError("export_mode must be 'ok', 'fail' or 'stuck'")
            elif key == "export_delay_sec":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ConfigError("export_delay_sec must be a number >= 0")
                value = float(value)
            elif key == "default_temp_timeout_sec" and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ConfigError("default_temp_timeout_sec must be a positive int")
            clean[key] = value
        return replace(self, **clean)
