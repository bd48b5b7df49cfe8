"""The provider's metrics: every name, its type and meaning, declared once (:data:`METRICS`),
and the three calls that send them through Airflow's ``Stats`` (StatsD, Datadog or
OpenTelemetry, as ``[metrics]`` configures Airflow).

* Every metric is ``altcraft.<name>``, under Airflow's own prefix (``[metrics]
  statsd_prefix``/``otel_prefix``, ``airflow`` by default): ``airflow.altcraft.request.count``.
* Metrics never fail or slow a task: an error of the backend is logged at debug level and
  dropped; a name that is not declared here (or sent as the wrong type) is dropped with one
  warning per name, never raised (:func:`check_metric` raises, for tests).
* Tags carry only low-cardinality values that name no one (:data:`TAGS`: endpoint, operation,
  outcome ...), never an eid, a member id, an e-mail or a token. Plain StatsD drops tags
  (Airflow adds them to the name with ``statsd_influxdb_enabled``); Datadog and
  OpenTelemetry keep them.
* Metrics are observability, not accounting: amounts are gauges of floats (StatsD counters are
  integers); the exact ``Decimal`` stays in the XComs and the batch results.

docs/metrics.md is generated from this module (:func:`render_metrics_table`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from airflow_provider_altcraft.compat import Stats

__all__ = [
    "METRICS",
    "METRIC_PREFIX",
    "TAGS",
    "Metric",
    "UnknownMetricError",
    "check_metric",
    "gauge",
    "incr",
    "render_metrics_table",
    "timing",
]

log = logging.getLogger(__name__)

#: Every metric of the provider is ``altcraft.<name>`` (below Airflow's own prefix).
METRIC_PREFIX = "altcraft"

MetricKind = Literal["counter", "gauge", "timer"]


@dataclass(frozen=True)
class Metric:
    """One metric: ``name`` (without the prefix), its type, the tags it carries, what it
    counts, and what emits it."""

    name: str
    kind: MetricKind
    tags: tuple[str, ...]
    description: str
    emitted_by: str

    @property
    def full_name(self) -> str:
        return f"{METRIC_PREFIX}.{self.name}"


#: The tag keys a metric may carry, and their values: each from a small fixed set.
TAGS: dict[str, str] = {
    "endpoint": "the API method, e.g. `loyalty/redeeme_points`",
    "outcome": (
        "`ok`, `retry`, `refused` (an error answer), `unknown` (may have been applied), "
        "`error` (transport failure, redirect, malformed answer); for points: `sent`, "
        "`already_present`"
    ),
    "operation": (
        "`redeem` or `accrue` (a signed batch's invalid rows, whose operation was never "
        "read: `by_sign`)"
    ),
    "action": "`commit`, `rollback` or `cancel`",
    "status": "the HTTP status of an overload answer (`429`, `503`)",
    "error": "the exception's class name, e.g. `AltcraftApiError`",
}

_HOOK = "AltcraftHook (every API call)"
_SINGLE = "AltcraftRedeemPointsOperator, AltcraftAccruePointsOperator"
_ACTIONS = "AltcraftCommit/Rollback/CancelTransactionOperator"
_BATCH = "the batch operators"

#: Every metric the provider sends. A test keeps this table, the calls in the code and
#: docs/metrics.md in step.
METRICS: tuple[Metric, ...] = (
    # -- the hook: every HTTP round trip --------------------------------------------------------
    Metric("request.duration", "timer", ("endpoint", "outcome"),
           "Time of one HTTP round trip (one attempt; pacing and backoff not included).", _HOOK),
    Metric("request.count", "counter", ("endpoint", "outcome"),
           "HTTP attempts, by how each ended.", _HOOK),
    Metric("request.retries", "counter", ("endpoint",),
           "Attempts that are retried (overload, server or transport error).", _HOOK),
    Metric("request.throttled", "counter", ("endpoint", "status"),
           "Overload answers (429, or 503): the hook backs off, every thread when the answer "
           "has `Retry-After`.", _HOOK),
    # -- single operators -----------------------------------------------------------------------
    Metric("points.redeemed", "counter", ("outcome",),
           "Redemptions done (`sent`) or found already applied under their eid "
           "(`already_present`).", _SINGLE),
    Metric("points.accrued", "counter", ("outcome",),
           "Accruals done or found already applied, as `points.redeemed`.", _SINGLE),
    Metric("points.amount_redeemed", "gauge", (),
           "Amount of the last redemption (a float: observability, not accounting).", _SINGLE),
    Metric("points.amount_accrued", "gauge", (),
           "Amount of the last accrual (a float: observability, not accounting).", _SINGLE),
    Metric("points.unknown_outcome", "counter", ("operation",),
           "Redeems/accruals that may have been applied without an answer, and not found by "
           "their eid: the task's next try looks the eid up again.", _SINGLE),
    Metric("points.failed", "counter", ("operation", "error"),
           "Redeems/accruals that failed (refused, settled eid, transport error).", _SINGLE),
    Metric("transaction.committed", "counter", (), "Transactions committed.", _ACTIONS),
    Metric("transaction.rolled_back", "counter", (), "Transactions rolled back.", _ACTIONS),
    Metric("transaction.cancelled", "counter", (), "Transactions cancelled.", _ACTIONS),
    Metric("transaction.failed", "counter", ("action", "error"),
           "Commits, rollbacks and cancels that failed.", _ACTIONS),
    # -- batch operators ------------------------------------------------------------------------
    Metric("batch.rows_sent", "counter", ("operation",),
           "Rows applied by this run.", _BATCH),
    Metric("batch.rows_already_present", "counter", ("operation",),
           "Rows found already applied under their eid (an earlier run or try).", _BATCH),
    Metric("batch.rows_unknown", "counter", ("operation",),
           "Rows whose outcome is unknown (may have been applied; a rerun resolves them).",
           _BATCH),
    Metric("batch.rows_failed", "counter", ("operation",),
           "Rows refused by Altcraft or failed in transport.", _BATCH),
    Metric("batch.rows_invalid", "counter", ("operation",),
           "Rows rejected by validation before any request.", _BATCH),
    Metric("batch.amount_redeemed", "gauge", (),
           "Amount redeemed by the last batch run (a float: observability, not accounting).",
           _BATCH),
    Metric("batch.amount_accrued", "gauge", (),
           "Amount accrued by the last batch run (a float: observability, not accounting).",
           _BATCH),
    Metric("batch.unknown_amount", "gauge", ("operation",),
           "Amount of the rows whose outcome is unknown in the last batch run.", _BATCH),
    Metric("batch.duration", "timer", ("operation",),
           "Time the batch took to send its rows.", _BATCH),
)  # fmt: skip

_BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}
#: The full names, computed once (the hook sends two metrics per request).
_FULL_NAMES: dict[tuple[str, MetricKind], str] = {
    (metric.name, metric.kind): metric.full_name for metric in METRICS
}
_TAG_KEYS = frozenset(TAGS)
_warned: set[str] = set()
_warned_lock = threading.Lock()


class UnknownMetricError(ValueError):
    """A metric name that :data:`METRICS` does not declare, or a wrong type or tag for it."""


def check_metric(name: str, kind: MetricKind, tags: Mapping[str, str] | None = None) -> str:
    """The full name of metric ``name``; raises :class:`UnknownMetricError` if it is not
    declared as a ``kind`` or carries a tag that :data:`TAGS` does not list (the send
    functions warn once instead: a metric never fails a task)."""
    metric = _BY_NAME.get(name)
    if metric is None:
        raise UnknownMetricError(
            f"metric {name!r} is not declared in airflow_provider_altcraft.metrics.METRICS"
        )
    if metric.kind != kind:
        raise UnknownMetricError(f"metric {name!r} is a {metric.kind}, not a {kind}")
    if tags:
        unknown = set(tags) - _TAG_KEYS
        if unknown:
            raise UnknownMetricError(
                f"metric {name!r}: tag(s) {sorted(unknown)} are not in metrics.TAGS"
            )
    return metric.full_name


def _warn_once(key: str, problem: Exception) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("Altcraft metric dropped: %s", problem)


def _full_name(name: str, kind: MetricKind, tags: Mapping[str, str] | None) -> str | None:
    """The checked full name, or None (warned once) when the call is not as declared."""
    full_name = _FULL_NAMES.get((name, kind))
    if full_name is not None and (not tags or tags.keys() <= _TAG_KEYS):
        return full_name
    try:
        return check_metric(name, kind, tags)
    except UnknownMetricError as exc:
        _warn_once(f"{name}:{kind}:{sorted(tags or ())}", exc)
        return None


def _plain(tags: Mapping[str, str] | None) -> dict[str, str] | None:
    """Tags as the dict Airflow's Stats takes (no copy when they already are one)."""
    if not tags:
        return None
    return tags if isinstance(tags, dict) else dict(tags)


def incr(name: str, count: int = 1, *, tags: Mapping[str, str] | None = None) -> None:
    """Add ``count`` to counter ``altcraft.<name>``."""
    full_name = _full_name(name, "counter", tags)
    if full_name is None:
        return
    try:
        Stats.incr(full_name, count, tags=_plain(tags))
    except Exception:  # a metric must never fail the task
        log.debug("Stats.incr(%s) failed", full_name, exc_info=True)


def gauge(
    name: str, value: float | int | Decimal, *, tags: Mapping[str, str] | None = None
) -> None:
    """Set gauge ``altcraft.<name>`` to ``value`` (a Decimal is sent as a float)."""
    full_name = _full_name(name, "gauge", tags)
    if full_name is None:
        return
    try:
        Stats.gauge(full_name, float(value), tags=_plain(tags))
    except Exception:
        log.debug("Stats.gauge(%s) failed", full_name, exc_info=True)


def timing(name: str, seconds: float, *, tags: Mapping[str, str] | None = None) -> None:
    """Record ``seconds`` in timer ``altcraft.<name>``.

    Sent as a ``timedelta``, which every backend converts itself: StatsD and Datadog to
    milliseconds, OpenTelemetry to milliseconds on Airflow 3 (on 2.11 as ``[metrics]
    timer_unit_consistency`` says, as for Airflow's own timers). A float would be taken as
    milliseconds by StatsD and as it is by the others.
    """
    full_name = _full_name(name, "timer", tags)
    if full_name is None:
        return
    try:
        Stats.timing(full_name, timedelta(seconds=seconds), tags=_plain(tags))
    except Exception:
        log.debug("Stats.timing(%s) failed", full_name, exc_info=True)


# -- documentation ----------------------------------------------------------------------------

_KIND_DOC: dict[MetricKind, str] = {
    "counter": "counter",
    "gauge": "gauge",
    "timer": "timer (ms)",
}


def render_metrics_table() -> str:
    """The Markdown tables of docs/metrics.md (between its ``metrics`` markers): every
    metric of :data:`METRICS`, then every tag of :data:`TAGS`."""
    lines = [
        "| metric | type | tags | meaning | sent by |",
        "|---|---|---|---|---|",
    ]
    for metric in METRICS:
        tags = ", ".join(f"`{tag}`" for tag in metric.tags) or "none"
        lines.append(
            f"| `{METRIC_PREFIX}.{metric.name}` | {_KIND_DOC[metric.kind]} | {tags} "
            f"| {metric.description} | {metric.emitted_by} |"
        )
    lines += ["", "| tag | values |", "|---|---|"]
    lines += [f"| `{key}` | {values} |" for key, values in TAGS.items()]
    return "\n".join(lines) + "\n"
