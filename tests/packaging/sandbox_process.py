"""Start ``altcraft-sandbox`` as a user would (a console script, a working directory of their
choice) and learn its URL from the one line it prints when it listens."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from airflow_provider_altcraft.sandbox.testing import READY_PREFIX

START_TIMEOUT_SEC = 60.0


@contextmanager
def sandbox_process(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run ``command`` (an ``altcraft-sandbox`` command line) in ``cwd``; yield its URL.

    Fails with what the process said if it exits or stays silent; stops it afterwards."""
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env if env is not None else os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr
    said: list[str] = []
    url: list[str] = []

    def read_stdout() -> None:
        for line in stdout:
            if not url and line.startswith(READY_PREFIX):
                url.append(line[len(READY_PREFIX) :].strip())
            said.append(line)

    def read_stderr() -> None:
        said.extend(stderr)

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    try:
        deadline = START_TIMEOUT_SEC
        while not url and proc.poll() is None and deadline > 0:
            readers[0].join(0.05)
            deadline -= 0.05
        if not url:
            proc.kill()
            proc.wait()
            for reader in readers:
                reader.join(2.0)
            raise AssertionError(
                f"{' '.join(command)} (in {cwd}) did not start (status {proc.returncode}):\n"
                + "".join(said)
            )
        yield url[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
