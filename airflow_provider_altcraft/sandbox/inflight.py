"""How many API requests the sandbox is answering at once: the current count and the peak.

A request is in flight from the moment its head and body were read until its answer is
ready (an injected delay included), so with a ``delay`` fault rule the peak is the number of
requests clients really had open at once: what an Airflow pool times a batch task's
``concurrency`` promises to cap. Read and reset under ``/_sandbox/inflight``::

    GET  /_sandbox/inflight        -> {"current": n, "peak": n, "total": n}
    POST /_sandbox/inflight/reset  -> the same, then the peak restarts from the current count

Wiring (two hooks): :meth:`InFlight.track` wraps the answer of every ``/api/`` request in
``SandboxApp.handle``, and :func:`handle_inflight` answers the control routes. Until the app
does that itself, :func:`instrument` wraps an app's ``handle`` (before its server is built).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from airflow_provider_altcraft.sandbox.http import Request, Response, json_response

__all__ = ["InFlight", "handle_inflight", "instrument"]

T = TypeVar("T")


class InFlight:
    """A thread-safe counter of requests being answered, with its high-water mark."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.total = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.total += 1
            self.peak = max(self.peak, self.current)

    def exit(self) -> None:
        with self._lock:
            self.current -= 1

    def track(self, result: T) -> T:
        """Count the request whose answer is ``result`` (a response, or an awaitable one):
        in flight until the answer is ready. Call it where the request is dispatched."""
        self.enter()
        if not inspect.isawaitable(result):
            self.exit()
            return result
        return self._until_done(result)  # type: ignore[return-value]  # awaitable in, out

    async def _until_done(self, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        finally:
            self.exit()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"current": self.current, "peak": self.peak, "total": self.total}

    def reset(self) -> dict[str, int]:
        with self._lock:
            self.peak = self.current
            self.total = 0
            return {"current": self.current, "peak": self.peak, "total": self.total}


def handle_inflight(counter: InFlight, request: Request) -> Response | None:
    """The answer of a ``/_sandbox/inflight`` route, or None for any other path."""
    path = request.path.rstrip("/")
    if path == "/_sandbox/inflight" and request.method == "GET":
        return json_response(200, counter.snapshot())
    if path == "/_sandbox/inflight/reset" and request.method == "POST":
        return json_response(200, counter.reset())
    return None


def instrument(app: Any) -> InFlight:
    """Count ``app``'s API requests and answer ``/_sandbox/inflight`` by wrapping its
    ``handle`` (call before the app's server is created); returns the counter."""
    existing = getattr(app, "inflight", None)
    if isinstance(existing, InFlight):
        return existing  # the app counts by itself
    counter = InFlight()
    handle = app.handle

    def counted(request: Request) -> Any:
        answer = handle_inflight(counter, request)
        if answer is not None:
            return answer
        if request.path.startswith("/api/"):
            return counter.track(handle(request))
        return handle(request)

    app.handle = counted
    app.inflight = counter
    return counter
