"""Pacing shared by every thread that uses one hook.

Two things slow requests down: an optional client-side rate (the connection's
``max_requests_per_second``) and a pause that a 429 / 503 ``Retry-After`` imposes. The pause is
shared on purpose: when Altcraft says "slow down" to one worker, the others must not keep
hammering it.
"""

from __future__ import annotations

import threading
import time


class Throttle:
    def __init__(self, max_requests_per_second: float | None) -> None:
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0

    def wait(self) -> None:
        """Block until this caller may send; reserves a slot so callers never bunch up."""
        if not self._interval and self._paused_until <= time.monotonic():
            return  # the common, unthrottled case takes no lock
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_slot, self._paused_until)
            self._next_slot = start + self._interval
        delay = start - now
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now (never shortens a longer pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
