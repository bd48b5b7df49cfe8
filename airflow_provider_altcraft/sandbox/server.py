"""Running the sandbox: the asyncio loop, periodic timers, signals and the in-process thread."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Callable

from airflow_provider_altcraft.sandbox.app import SandboxApp
from airflow_provider_altcraft.sandbox.http import HttpServer
from airflow_provider_altcraft.sandbox.persistence import Journal, StateFile

__all__ = [
    "EXPIRY_TICK_SEC",
    "SANDBOX_HEADER",
    "RemoteBindError",
    "SandboxServer",
    "check_bind_host",
    "is_loopback_host",
]

#: On every response (protocol errors included): clients can tell a sandbox from Altcraft.
SANDBOX_HEADER = ("X-Altcraft-Sandbox", "1")


class RemoteBindError(ValueError):
    """A non-loopback bind address without ``allow_remote``."""


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` listens on loopback interfaces only.

    An IP literal is checked as such (all of 127.0.0.0/8, ``::1``, ``::ffff:127.x.x.x``); a
    name must resolve to loopback addresses only. ``""``, ``0.0.0.0`` and ``::`` (every
    interface) are not loopback.
    """
    if not host:
        return False

    def loopback(text: str) -> bool:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback

    try:
        return loopback(host.strip("[]"))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # unresolvable: the bind fails anyway; refuse first
    return bool(infos) and all(loopback(str(info[4][0])) for info in infos)


def check_bind_host(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``; returns the warning to print
    when it is allowed (None for loopback)."""
    if is_loopback_host(host):
        return None
    if not allow_remote:
        raise RemoteBindError(
            f"refusing to listen on {host!r}, which is not a loopback address: the sandbox's "
            "/_sandbox/ control endpoints have no authentication (anyone who reaches the port "
            "can read and replace its state). Pass --allow-remote (allow_remote=True) to do it "
            "anyway."
        )
    return (
        f"altcraft-sandbox: WARNING: listening on {host!r}, not a loopback address "
        "(--allow-remote). Anyone who reaches this port can use the unauthenticated /_sandbox/ "
        "control endpoints. Never point it at real data."
    )


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
        allow_remote: bool = False,
    ) -> None:
        # Checked before anything binds: raises RemoteBindError.
        self.warning = check_bind_host(host, allow_remote)
        self.app = app
        self.host = host
        self.port = port
        self.state_file = state_file
        self.journal: Journal | None = None
        self.http = HttpServer(app.handle, access_log=access_log, default_headers=[SANDBOX_HEADER])
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Serve until :meth:`request_stop` (or SIGTERM/SIGINT in the main thread)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.warning is not None:
            print(self.warning, file=sys.stderr, flush=True)
        store = self.state_file
        if store is not None and store.durable:
            # Durable mode starts from a fresh snapshot and an empty journal of its generation.
            store.save(self.app)
            self.journal = self.app.journal = Journal(store, self.app)
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
            if self.journal is not None:
                await self.journal.close()
            if self.state_file is not None:
                self.state_file.save_if_changed(self.app)
                self.state_file.close_journal()

    async def _tick(self) -> None:
        since_save = 0.0
        while True:
            await asyncio.sleep(EXPIRY_TICK_SEC)
            try:
                self.app.ledger.expire_due()
                since_save += EXPIRY_TICK_SEC
                if self.journal is not None:
                    pass  # durable: the journal worker compacts when the journal grows large
                elif self.state_file is not None and since_save >= STATE_DEBOUNCE_SEC:
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
