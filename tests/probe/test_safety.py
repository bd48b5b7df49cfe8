"""The probe is safe by construction: a plan and no request without --yes, reads only with
--read-only, no personal data or token in what it writes."""

from __future__ import annotations

import os
import subprocess
import sys

from airflow_provider_altcraft.probe import facts as F
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO, TOKEN
from tests.probe.conftest import BASE_ARGS, MEMBER_EMAIL, RunProbe, member_balance

READS = {
    "tasks/status",
    "loyalty/account/balance",
    "loyalty/account/transactions",
    "loyalty/account/expiring_points",
    "loyalty/transactions_export",
    "download",
}


def test_without_yes_it_prints_the_plan_and_sends_nothing(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    outcome = run_probe(yes=False)

    assert outcome.exit_code == 2
    assert outcome.profile is None
    assert sandbox.requests() == []
    assert "TEMPORARY accrual of 1 stars" in outcome.output
    assert "loyalty/commit_transaction" in outcome.output
    assert "Nothing was sent" in outcome.output


def test_read_only_without_yes_sends_nothing_either(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    outcome = run_probe("--read-only", yes=False)

    assert outcome.exit_code == 2
    assert sandbox.requests() == []
    assert "accrue_points" not in outcome.output and "redeeme_points" not in outcome.output


def test_module_entry_point_prints_the_plan_without_airflow(tmp_path: object) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_altcraft.probe", *BASE_ARGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Nothing was sent" in result.stdout


def test_read_only_makes_reads_only(sandbox: SandboxHandle, run_probe: RunProbe) -> None:
    before = member_balance(sandbox)
    ledger_before = sandbox.transactions()

    outcome = run_probe("--read-only")

    assert outcome.exit_code == 0, outcome.output
    methods = {entry["method"] for entry in sandbox.requests()}
    assert methods <= READS, methods - READS
    assert sandbox.transactions() == ledger_before
    assert member_balance(sandbox) == before
    assert outcome.profile is not None and outcome.profile["probe"]["mode"] == "read-only"
    for question in F.QUESTIONS:
        fact = outcome.facts[question.name]
        if question.writes:
            assert fact == {"known": False, "reason": "not probed (--read-only)"}
    # What reads can tell, they tell (the sandbox's defaults).
    assert outcome.value("auth_header") == "accept"
    assert outcome.value("date_only_periods") == "refuse"
    assert outcome.value("app_error_http_status") == "200"
    assert outcome.value("transaction_state_field") is False
    assert outcome.value("task_pending_status") == "processing"
    assert outcome.value("email_matching") == "case_insensitive"
    assert outcome.value("error_unknown_member")["error_text"] == "Profile not found"
    assert "transaction_eid" in outcome.value("transaction_fields")


def test_nothing_personal_in_the_profile_even_when_errors_quote_it(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    # "exact" e-mail matching: the member in other letter case is an unknown profile; the
    # sandbox's texts quote nothing, but the probe scrubs whatever a server might quote.
    sandbox.configure(email_matching="exact")
    outcome = run_probe()

    assert outcome.exit_code == 0, outcome.output
    text = outcome.profile_text
    for secret in (MEMBER_EMAIL, MEMBER_EMAIL.upper(), "a***@", "example.com", TOKEN, "p-1"):
        assert secret not in text


def test_scrubbing_of_texts() -> None:
    from airflow_provider_altcraft.models import Matching
    from airflow_provider_altcraft.probe.runner import ProbeRun, Target

    class FakeSession:
        hooks: dict[str, list[object]] = {"response": []}

    class FakeHook:
        session = FakeSession()
        altcraft_conn_id = "x"

    target = Target(1, Matching.by_email("Ann.Lee@example.com"), points_currency_eid="stars")
    run = ProbeRun(FakeHook(), target)  # type: ignore[arg-type]
    assert run.clean("Profile Ann.Lee@example.com not found") == "Profile <member> not found"
    assert run.clean("no ANN.LEE@EXAMPLE.COM") == "no <member>"
    assert run.clean("masked a***@example.com, +15*******01") == "masked <email>, <phone>"
    assert run.clean("phone +15550000001 here") == "phone <phone> here"


def test_a_member_that_does_not_exist_stops_the_probe_before_any_write(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    from airflow_provider_altcraft.probe.cli import main

    lines: list[str] = []
    argv = [*BASE_ARGS, "--yes"]
    argv[argv.index(f"email:{MEMBER_EMAIL}")] = "email:nobody@example.com"
    run_probe(yes=False)  # sets the connection
    sandbox.clear_requests()

    code = main(argv, say=lines.append)

    assert code == 1
    assert "STOPPED" in "\n".join(lines)
    assert {e["method"] for e in sandbox.requests()} <= READS


def test_a_connection_sending_the_token_in_the_header(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    outcome = run_probe(auth_placement="header")
    assert outcome.exit_code == 0, outcome.output
    assert outcome.value("auth_header") == "accept"

    # A server that refuses the header: the probe stops at its first call, nothing written.
    sandbox.configure(auth_header="refuse")
    sandbox.clear_requests()
    refused = run_probe(auth_placement="header")
    assert refused.exit_code == 1
    assert "STOPPED" in refused.output and "token was refused" in refused.output
    assert [e["method"] for e in sandbox.requests()] == ["tasks/status"]


def test_other_matching_modes_and_the_number_of_requests(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    before = member_balance(sandbox)
    outcome = run_probe("--member", "profile_id:p-1")  # the later --member wins

    assert outcome.exit_code == 0, outcome.output
    assert member_balance(sandbox) == before
    assert outcome.facts["email_matching"] == {
        "known": False,
        "reason": "the member is not matched by e-mail",
    }
    assert outcome.value("duplicate_eid") == "accept"
    assert "p-1" not in outcome.profile_text
    # A small, bounded number of calls (docs/probe.md: "about thirty"), one at a time.
    assert 20 <= len(sandbox.requests()) <= 45, len(sandbox.requests())


def test_reading_a_profile_imports_no_airflow() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_altcraft.server_profile\n"
        "import airflow_provider_altcraft.sandbox.profile\n"
        "import airflow_provider_altcraft.probe.cli\n"
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "print(loaded)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
