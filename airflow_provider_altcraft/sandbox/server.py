"""Running the sandbox: the asyncio loop, periodic timers, signals and the in-process thread."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable

from airflow_provider_altcraft.sandbox.app import SandboxApp
from airflow_provider_altcraft.sandbox.http import HttpServer
from airflow_provider_altcraft.sandbox.persistence import StateFile

__all__ = ["EXPIRY_TICK_SEC", "SandboxServer"]

# Temporary transactions also expire lazily on every request; the timer makes the ledger seen
# through /_sandbox/ledger right even when no API traffic arrives.
EXPIRY_TICK_SEC = 0.2
STATE_DEBOUNCE_SEC = 0.5


class SandboxServer:
    def __init__(
        self,
        app: SandboxApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: StateFile | None = None,
        access_log: bool = False,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.state_file = state_file
        self.http = HttpServer(app.handle, access_log=access_log)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Serve until :meth:`request_stop` (or SIGTERM/SIGINT in the main thread)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.port = await self.http.start(self.host, self.port)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stop.set)
        ticker = asyncio.ensure_future(self._tick())
        if on_ready is not None:
            on_ready(self)
        try:
            await self._stop.wait()
        finally:
            ticker.cancel()
            await self.http.stop()
            if self.state_file is not None:
                self.state_file.save_if_changed(self.app)

    async def _tick(self) -> None:
        since_save = 0.0
        while True:
            await asyncio.sleep(EXPIRY_TICK_SEC)
            try:
                self.app.ledger.expire_due()
                since_save += EXPIRY_TICK_SEC
                if self.state_file is not None and since_save >= STATE_DEBOUNCE_SEC:
                    since_save = 0.0
                    self.state_file.save_if_changed(self.app)
            except Exception as exc:  # a timer failure must not stop the server
                print(f"altcraft-sandbox: timer error: {exc!r}", file=sys.stderr, flush=True)

    def request_stop(self) -> None:
        """Thread-safe stop request."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    # ------------------------------------------------------------------ in-process mode
    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Run the loop in a daemon thread; returns once the port is bound."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.serve(lambda _srv: ready.set()))
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="altcraft-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or errors:
            raise RuntimeError(f"altcraft sandbox did not start: {errors[:1]}")

    def stop_thread(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
