"""Run-time options of the sandbox (``GET``/``POST /_sandbox/config``, ``--config``).

Each option is a behaviour of the real Altcraft API that its public guide does not document,
so tests can exercise a client against every plausible variant. The defaults are the strict
reading of the guide: where it speaks, as it says; where it is silent, the variant that is
hardest on a client (a sandbox more lenient than Altcraft would hide client bugs). docs/sandbox.md
lists every option with the guide's words behind it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["ConfigError", "SandboxConfig"]


class ConfigError(ValueError):
    """Invalid configuration option or value."""


#: The allowed values of each choice option (the first is not necessarily the default).
CHOICES: dict[str, tuple[str, ...]] = {
    "duplicate_eid": ("accept", "refuse"),
    "app_error_http_status": ("200", "mapped"),
    "export_mode": ("ok", "fail", "stuck"),
    "commit_creates_transaction": ("accrual", "always", "never"),
    "date_only_periods": ("refuse", "accept"),
    "currency_when_omitted": ("program_default", "refuse"),
    "amount_format": ("plain", "padded"),
    "tiers": ("reached", "current"),
    "email_matching": ("case_insensitive", "exact"),
    "auth_header": ("accept", "refuse"),
}
#: Options that are booleans.
BOOLEANS = ("unpublished_fields",)


@dataclass(frozen=True)
class SandboxConfig:
    # "accept": a second transaction with the same transaction_eid is created (default);
    # "refuse": it is refused with error 409 "Duplicate transaction_eid". (Unpublished.)
    duplicate_eid: str = "accept"
    # "200": application errors come with HTTP 200 (the guide: always check `error`);
    # "mapped": HTTP status = the envelope's error code when it is a 4xx.
    app_error_http_status: str = "200"
    # Seconds before an export task is completed (or failed).
    export_delay_sec: float = 0.3
    # "ok" | "fail" | "stuck": how export tasks end.
    export_mode: str = "ok"
    # Into how many files (result.urls) a completed export is split (the guide: a list).
    export_files: int = 1
    # The status of a task still running (the guide publishes only "completed").
    task_pending_status: str = "processing"
    # Auto-rollback timeout of a temporary transaction sent without temp_timeout_sec.
    default_temp_timeout_sec: int = 3600
    # Which commits of a temporary transaction create a new full transaction (new id, same
    # eid) instead of changing it in place. The guide's commit page says so of accruals.
    commit_creates_transaction: str = "accrual"
    # false: transaction lists and exports carry only the fields the guide publishes; true:
    # also status, is_temp (lists, exports) and profile_id, points_currency_eid (exports).
    unpublished_fields: bool = False
    # Period bounds (export, expiring points) as bare dates: "refuse" (the guide: RFC3339).
    date_only_periods: str = "refuse"
    # A redeem/accrue/balance without a currency: "program_default" uses the program's first
    # currency (unpublished); "refuse" answers 400. Lists, exports and expiring points always
    # require one (the guide says so).
    currency_when_omitted: str = "program_default"
    # Amounts in answers: "plain" as few decimals as needed ("100.1", "475"); "padded" at
    # least two ("475.00"). The guide's example is "100.1".
    amount_format: str = "plain"
    # account/tiers: "reached" every tier of the group reached so far, tier_order from 0
    # (the guide's example has two entries); "current" only the current one.
    tiers: str = "reached"
    # E-mail matching: "case_insensitive" (unpublished) or "exact".
    email_matching: str = "case_insensitive"
    # The token as "Authorization: Bearer": "accept" (the newer guide page) or "refuse" (an
    # older installation that reads the token from the request parameters only).
    auth_header: str = "accept"

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
        return replace(self, **{key: _checked(key, value) for key, value in changes.items()})


def _checked(key: str, value: object) -> Any:
    if key in CHOICES:
        text = str(value) if key == "app_error_http_status" else value
        if text not in CHOICES[key]:
            raise ConfigError(f"{key} must be one of {', '.join(map(repr, CHOICES[key]))}")
        return text
    if key in BOOLEANS:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false")
        return value
    if key == "export_delay_sec":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError("export_delay_sec must be a number >= 0")
        return float(value)
    if key == "task_pending_status":
        if not isinstance(value, str) or not value or value in ("completed", "success"):
            raise ConfigError("task_pending_status must be a non-empty string, not a final one")
        return value
    # default_temp_timeout_sec, export_files
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key} must be a positive int")
    return value
