"""Pacing shared by every thread that uses one hook.

Three things slow requests down:

* an optional client-side rate (the connection's ``max_requests_per_second``);
* a pause that a 429 / 503 ``Retry-After`` imposes on every thread, exactly as long as the
  server asked (capped by the connection): when Altcraft says "slow down" to one worker, the
  others must not keep hammering it;
* an adaptive limit on requests in flight (additive increase, multiplicative decrease, as
  TCP's congestion window): an overload answer *without* ``Retry-After`` cuts it by a quarter,
  at most once per round trip (answers to requests sent before the cut do not cut again), and
  each success grows it back by about one per round trip. A sporadic 503 then costs one
  thread its backoff and trims concurrency a little, instead of stalling every thread for the
  whole backoff; sustained overload still drives it down to one request at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Throttle:
    """The pacing of one hook, shared by its threads (see the module docstring).

    :param max_requests_per_second: a client-side rate; None or 0: no rate limit.
    :param max_in_flight: the most requests in flight at once (the adaptive limit's ceiling).
    """

    def __init__(self, max_requests_per_second: float | None, max_in_flight: int = 16) -> None:
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._max_in_flight = max(1, max_in_flight)
        self._limit = float(self._max_in_flight)
        self._in_flight = 0
        self._room = threading.Condition(self._lock)
        # Bumped by every cut: an answer to a request sent before it says nothing new.
        self._generation = 0

    def cap(self, max_in_flight: int) -> None:
        """Never more than ``max_in_flight`` requests in flight (the limit adapts below it).

        :param max_in_flight: the new ceiling (at least 1).
        """
        with self._room:
            self._max_in_flight = max(1, max_in_flight)
            self._limit = min(self._limit, float(self._max_in_flight))

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self._limit))

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

    @contextmanager
    def in_flight(self) -> Iterator[int]:
        """Hold one of the in-flight places for the duration of a request; yields the
        generation to pass to :meth:`overloaded`."""
        with self._room:
            while self._in_flight >= self.limit:
                self._room.wait()
            self._in_flight += 1
            generation = self._generation
        try:
            yield generation
        finally:
            with self._room:
                self._in_flight -= 1
                self._room.notify()

    def succeeded(self) -> None:
        """Additive increase: about one more place per round trip of successes."""
        if self._limit >= self._max_in_flight:
            return  # the common case takes no lock
        with self._room:
            self._limit = min(float(self._max_in_flight), self._limit + 1.0 / self._limit)
            self._room.notify_all()

    def overloaded(self, generation: int | None = None) -> None:
        """Multiplicative decrease after an overload answer that named no ``Retry-After``,
        unless the request was sent before the last cut.

        :param generation: what :meth:`in_flight` yielded for the request; None: cut anyway.
        """
        with self._room:
            if generation is not None and generation != self._generation:
                return
            self._generation += 1
            self._limit = max(1.0, self._limit * 0.75)

    def pause(self, seconds: float) -> None:
        """Hold every caller back from now on (never shortens a longer pause).

        :param seconds: how long, e.g. the answer's ``Retry-After``.
        """
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
