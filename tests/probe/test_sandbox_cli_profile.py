"""``altcraft-sandbox --profile FILE``: the real CLI starts with the options the profile
measured, and says what it cannot replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.sandbox.config import SandboxConfig
from tests.probe.conftest import RunProbe


def test_the_cli_replays_a_measured_profile(
    sandbox: SandboxHandle, run_probe: RunProbe, tmp_path: Path
) -> None:
    measured = {"duplicate_eid": "refuse", "amount_format": "padded", "auth_header": "refuse",
                "commit_creates_transaction": "never", "unpublished_fields": True}  # fmt: skip
    sandbox.configure(**{**SandboxConfig().as_dict(), **measured})
    outcome = run_probe()
    assert outcome.exit_code == 0, outcome.output
    profile = tmp_path / "server.json"
    profile.write_text(outcome.profile_text, encoding="utf-8")

    server = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_altcraft.sandbox", "--port", "0",
         "--token", "t", "--profile", str(profile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        url = ready.split()[-1].strip()
        config = SandboxHandle(url, "t").config()
    finally:
        server.terminate()
        server.wait(10)

    for option, value in measured.items():
        assert config[option] == value, option
    assert json.loads(outcome.profile_text)["format"].startswith("altcraft-probe-profile/")
