"""Fault injection: deterministic (seeded) failures for /api/ requests.

Rules are evaluated in order for every /api/ request whose method they cover. Each covering,
not exhausted rule draws one number from ``random.Random(seed)``; a draw below ``rate`` is a
hit. ``delay`` hits add up and evaluation continues; the first hit of any other kind decides
the outcome and stops evaluation. Same seed + same request sequence = same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_KINDS", "FaultDecision", "FaultError", "FaultRule", "Faults"]

FAULT_KINDS = (
    "http_500", "http_503", "http_429", "delay", "drop_before", "drop_after", "malformed_after",
)  # fmt: skip


class FaultError(ValueError):
    """Invalid fault rule document."""


@dataclass
class FaultRule:
    kind: str
    rate: float
    methods: frozenset[str] | None  # None = every /api/ method
    max_count: int | None
    retry_after: int | None
    delay_ms: int
    #: malformed_after: the ``data`` of the success envelope sent instead of the real one.
    data: Any = None
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rate": self.rate,
            "methods": None if self.methods is None else sorted(self.methods),
            "max_count": self.max_count,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "data": self.data,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class FaultDecision:
    delay_s: float = 0.0
    kind: str | None = None  # any FAULT_KINDS but delay
    retry_after: int | None = None
    data: Any = None


NO_FAULT = FaultDecision()


def _parse_rule(raw: object, where: str) -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultError(f"{where}: must be an object")
    keys = {"kind", "rate", "methods", "max_count", "retry_after", "delay_ms", "data"}
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise FaultError(f"{where}: unknown keys {unknown}")
    kind = raw.get("kind")
    if kind not in FAULT_KINDS:
        raise FaultError(f"{where}: kind must be one of {list(FAULT_KINDS)}")
    rate = raw.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise FaultError(f"{where}: rate must be a number in 0.0..1.0")
    methods = raw.get("methods")
    if methods is not None and (
        not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
    ):
        raise FaultError(f"{where}: methods must be a list of strings")

    def opt_int(key: str, minimum: int) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise FaultError(f"{where}: {key} must be an int >= {minimum}")
        return value

    max_count = opt_int("max_count", 0)
    retry_after = opt_int("retry_after", 0)
    delay_ms = opt_int("delay_ms", 0)
    if kind == "delay" and delay_ms is None:
        raise FaultError(f"{where}: delay rules need delay_ms")
    if delay_ms is not None and kind != "delay":
        raise FaultError(f"{where}: delay_ms is for delay rules only")
    if retry_after is not None and kind not in ("http_429", "http_503"):
        raise FaultError(f"{where}: retry_after is for http_429 and http_503 rules only")
    if "data" in raw and kind != "malformed_after":
        raise FaultError(f"{where}: data is for malformed_after rules only")
    return FaultRule(
        kind=str(kind),
        rate=float(rate),
        methods=None if methods is None else frozenset(methods),
        max_count=max_count,
        retry_after=retry_after,
        delay_ms=delay_ms or 0,
        data=raw.get("data", {}),
    )


class Faults:
    """The active rule set plus its RNG and hit counters. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seed = 0
        self._rng = random.Random(0)
        self._evaluated = 0

    def configure(self, doc: object) -> None:
        """Replace the rules with ``{"seed": int, "rules": [...]}`` (validated first)."""
        if not isinstance(doc, dict):
            raise FaultError('body must be a JSON object {"seed": int, "rules": [...]}')
        unknown = sorted(set(doc) - {"seed", "rules"})
        if unknown:
            raise FaultError(f"unknown keys {unknown}")
        seed = doc.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultError("seed must be an int")
        rules_raw = doc.get("rules", [])
        if not isinstance(rules_raw, list):
            raise FaultError("rules must be a list")
        rules = [_parse_rule(r, f"rules[{i}]") for i, r in enumerate(rules_raw)]
        with self._lock:
            self._rules = rules
            self._seed = seed
            self._rng = random.Random(seed)
            self._evaluated = 0

    def clear(self) -> None:
        self.configure({"rules": []})

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "rules": [r.describe() for r in self._rules],
                "requests_evaluated": self._evaluated,
                "total_hits": sum(r.hits for r in self._rules),
            }

    def decide(self, method: str) -> FaultDecision:
        """Decide the fate of one /api/ request (``method`` like ``loyalty/redeeme_points``)."""
        if not self._rules:  # fast path: no lock, no RNG when fault injection is off
            return NO_FAULT
        with self._lock:
            self._evaluated += 1
            delay_ms = 0
            for rule in self._rules:
                if rule.methods is not None and method not in rule.methods:
                    continue
                if rule.max_count is not None and rule.hits >= rule.max_count:
                    continue
                if self._rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                if rule.kind == "delay":
                    delay_ms += rule.delay_ms
                    continue
                return FaultDecision(delay_ms / 1000.0, rule.kind, rule.retry_after, rule.data)
            return FaultDecision(delay_ms / 1000.0) if delay_ms else NO_FAULT
