"""Test helpers: :func:`run_sandbox` (a context manager) and :class:`SandboxHandle`.

The handle speaks only the ``/_sandbox/`` control endpoints over HTTP (stdlib ``urllib``), so
it works the same for a subprocess, an in-process server, or a sandbox started elsewhere
(:meth:`SandboxHandle.connect`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

__all__ = ["SandboxError", "SandboxHandle", "run_sandbox"]

START_TIMEOUT_SEC = 10.0
READY_PREFIX = "altcraft-sandbox listening on "
SeedArg = Mapping[str, Any] | str | os.PathLike[str] | None


class SandboxError(RuntimeError):
    """The sandbox failed to start or a control call was refused."""


class SandboxHandle:
    """Client of one running sandbox's control API."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        #: The server's process id when :func:`run_sandbox` started it as a subprocess.
        self.pid: int | None = None
        self._stderr: list[str] | None = None

    def stderr(self) -> str:
        """What the subprocess wrote to stderr so far ("" for other sandboxes)."""
        return "".join(self._stderr or [])

    @classmethod
    def connect(cls, url: str, token: str) -> SandboxHandle:
        """Attach to a sandbox started elsewhere (checks ``/_sandbox/health``)."""
        handle = cls(url, token)
        handle._call("GET", "/_sandbox/health")
        return handle

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r})"

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, path: str, payload: object = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        if method == "POST" and data is None:
            data = b"{}"
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise SandboxError(f"{method} {path} -> HTTP {exc.code}: {detail}") from None
        except OSError as exc:  # URLError: nothing listening, connection reset ...
            raise SandboxError(f"{method} {path}: {exc}") from None

    # ------------------------------------------------------------------ inspection
    def health(self) -> bool:
        """Whether a sandbox answers at ``url`` (False when nothing does)."""
        try:
            return bool(self._call("GET", "/_sandbox/health").get("ok"))
        except SandboxError:
            return False

    def ledger(self) -> dict[str, Any]:
        """The whole state (``GET /_sandbox/ledger``)."""
        result: dict[str, Any] = self._call("GET", "/_sandbox/ledger")
        return result

    def transactions(self, **filters: object) -> list[dict[str, Any]]:
        """Transactions (full form) whose fields equal ``filters`` (compared as strings)."""

        def text(value: object) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)

        query = urllib.parse.urlencode({k: text(v) for k, v in filters.items()})
        result = self._call("GET", "/_sandbox/transactions" + (f"?{query}" if query else ""))
        rows: list[dict[str, Any]] = result["transactions"]
        return rows

    def balance(self, program_id: int, profile_id: str, currency_eid: str) -> dict[str, Any]:
        """Balances of one account as Decimals: total_balance, active_balance, held_balance."""
        query = urllib.parse.urlencode(
            {"program_id": program_id, "profile_id": profile_id, "currency": currency_eid}
        )
        result: dict[str, Any] = self._call("GET", f"/_sandbox/balance?{query}")
        for key in ("total_balance", "active_balance", "held_balance"):
            result[key] = Decimal(result[key])
        return result

    def requests(self) -> list[dict[str, Any]]:
        """API requests seen since the last reset/clear: ``{method, path, http_status, ...}``."""
        entries: list[dict[str, Any]] = self._call("GET", "/_sandbox/requests")["requests"]
        return entries

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sandbox/faults")
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sandbox/config")
        return result

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    def load_seed(self, seed: SeedArg) -> None:
        """Replace the state with ``seed`` (dict or path) and make it the reset target."""
        self._call("POST", "/_sandbox/seed", _seed_dict(seed) or {})

    def set_faults(self, rules: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", "/_sandbox/faults", {"seed": seed, "rules": [dict(r) for r in rules]}
        )
        return result

    def clear_faults(self) -> None:
        self._call("POST", "/_sandbox/faults", {"rules": []})

    def configure(self, **options: object) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sandbox/config", options)
        return result

    def clear_requests(self) -> None:
        self._call("POST", "/_sandbox/requests/clear")


def _seed_dict(seed: SeedArg) -> dict[str, Any] | None:
    if seed is None:
        return None
    if isinstance(seed, Mapping):
        return dict(seed)
    loaded: dict[str, Any] = json.loads(Path(seed).read_text(encoding="utf-8"))
    return loaded


def _drain(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


@contextmanager
def run_sandbox(
    token: str = "sandbox-token",
    seed: SeedArg = None,
    config: Mapping[str, Any] | None = None,
    in_process: bool = False,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_file: str | os.PathLike[str] | None = None,
    durable: bool = False,
    allow_remote: bool = False,
) -> Iterator[SandboxHandle]:
    """Start a sandbox on a free port and yield its :class:`SandboxHandle`.

    By default the server is a subprocess (``python -m airflow_provider_altcraft.sandbox``) so
    the client under test does not share a GIL with it; ``in_process=True`` runs it in a
    daemon thread instead (faster start, easier debugging).

    ``durable=True`` (needs ``state_file``): every acknowledged write survives a crash (see
    docs/sandbox.md, "Durable mode"). A ``host`` that is not a loopback address is refused (before
    anything is started or bound) unless ``allow_remote=True``: the control endpoints have no
    authentication.
    """
    from airflow_provider_altcraft.sandbox.server import RemoteBindError, check_bind_host

    if durable and state_file is None:
        raise SandboxError("durable=True needs a state_file")
    try:
        check_bind_host(host, allow_remote)
    except RemoteBindError as exc:
        raise SandboxError(str(exc)) from None
    seed_doc = _seed_dict(seed)
    options = _Options(host, port, state_file, durable, allow_remote)
    if in_process:
        yield from _run_in_process(token, seed_doc, config, options)
    else:
        yield from _run_subprocess(token, seed_doc, config, options)


@dataclass(frozen=True)
class _Options:
    host: str
    port: int
    state_file: str | os.PathLike[str] | None
    durable: bool
    allow_remote: bool


def _run_in_process(
    token: str,
    seed: dict[str, Any] | None,
    config: Mapping[str, Any] | None,
    options: _Options,
) -> Iterator[SandboxHandle]:
    from airflow_provider_altcraft.sandbox.app import SandboxApp
    from airflow_provider_altcraft.sandbox.config import SandboxConfig
    from airflow_provider_altcraft.sandbox.persistence import StateFile
    from airflow_provider_altcraft.sandbox.seed import parse_seed
    from airflow_provider_altcraft.sandbox.server import SandboxServer

    if seed is not None:
        parse_seed(seed)
    app = SandboxApp(token=token, seed=seed, config=SandboxConfig().updated(dict(config or {})))
    state_file = options.state_file
    store = StateFile(state_file, durable=options.durable) if state_file is not None else None
    if store is not None:
        store.load(app)
    server = SandboxServer(
        app,
        host=options.host,
        port=options.port,
        state_file=store,
        allow_remote=options.allow_remote,
    )
    server.start_in_thread(START_TIMEOUT_SEC)
    try:
        yield SandboxHandle(server.url, token)
    finally:
        server.stop_thread()


def _run_subprocess(
    token: str,
    seed: dict[str, Any] | None,
    config: Mapping[str, Any] | None,
    options: _Options,
) -> Iterator[SandboxHandle]:
    with tempfile.TemporaryDirectory(prefix="altcraft-sandbox-") as tmp:
        cmd = [
            sys.executable, "-m", "airflow_provider_altcraft.sandbox",
            "--host", options.host, "--port", str(options.port), "--token", token, "--quiet",
        ]  # fmt: skip
        if options.allow_remote:
            cmd.append("--allow-remote")
        if seed is not None:
            seed_path = Path(tmp) / "seed.json"
            seed_path.write_text(json.dumps(seed), encoding="utf-8")
            cmd += ["--seed", str(seed_path)]
        if config:
            cmd += ["--config", json.dumps(dict(config))]
        if options.state_file is not None:
            cmd += ["--state-file", os.fspath(options.state_file)]
        if options.durable:
            cmd.append("--durable")
        env = dict(os.environ)
        # Make the package importable from the working tree even when it is not installed.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        stderr_lines: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        err_reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_lines), daemon=True)
        err_reader.start()
        url = _wait_ready(proc, stderr_lines, err_reader)
        # Keep draining stdout so the child never blocks on a full pipe.
        threading.Thread(target=_drain, args=(proc.stdout, []), daemon=True).start()
        handle = SandboxHandle(url, token)
        handle.pid, handle._stderr = proc.pid, stderr_lines
        try:
            yield handle
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(
    proc: subprocess.Popen[str], stderr_lines: list[str], err_reader: threading.Thread
) -> str:
    found: list[str] = []
    stdout = proc.stdout
    assert stdout is not None

    def read_line() -> None:
        line = stdout.readline()
        if line.startswith(READY_PREFIX):
            found.append(line[len(READY_PREFIX) :].strip())

    reader = threading.Thread(target=read_line, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SEC)
    if not found:
        exited = proc.poll()
        if exited is None and not reader.is_alive():
            # stdout closed without the ready line: the child is exiting; let it be reaped.
            try:
                exited = proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                exited = None
        proc.kill()
        proc.wait()
        err_reader.join(2.0)  # collect what the child said before it died
        detail = "".join(stderr_lines).strip() or "(no stderr)"
        if exited is not None:
            raise SandboxError(f"altcraft sandbox exited with status {exited}: {detail}")
        raise SandboxError(f"altcraft sandbox did not start within {START_TIMEOUT_SEC}s: {detail}")
    return found[0]
