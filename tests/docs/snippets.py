"""Code the documentation shows that is not an example DAG: docs/hook.md, docs/sandbox.md and
docs/probe.md include these regions (``literalinclude`` between the START/END markers), and
tests/docs/test_snippets.py runs them against the sandbox, so a snippet that stops working
fails a test instead of misleading a reader.
"""

from __future__ import annotations

from typing import Any


def hook_balance() -> Any:
    # [START howto_hook_balance]
    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
    from airflow_provider_altcraft.models import Matching

    hook = AltcraftHook()  # altcraft_conn_id="altcraft_default"
    ann = Matching.by_email("ann@example.com")
    balance = hook.get_balance(loyalty_program_id=1, matching=ann, points_currency_eid="stars")
    # Balance(total_balance=Decimal('500'), active_balance=Decimal('500'))
    # [END howto_hook_balance]
    return balance


def sandbox_python_api() -> None:
    # [START howto_sandbox_python_api]
    from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, run_sandbox

    with run_sandbox(token="t", seed=SEED_EXAMPLE, config={"duplicate_eid": "refuse"}) as sb:
        print(sb.url, sb.token)  # http://127.0.0.1:40123 t
        print(sb.balance(1, "p-1", "stars")["total_balance"])  # 500.00 (a Decimal)
    # [END howto_sandbox_python_api]


def profile_in_sandbox() -> None:
    """Reads ``altcraft-profile.json`` from the working directory, as the page says."""
    # [START howto_profile_in_sandbox]
    from airflow_provider_altcraft.sandbox import run_sandbox
    from airflow_provider_altcraft.sandbox.profile import (
        read_profile,
        sandbox_options,
        unreplayable,
    )

    profile = read_profile("altcraft-profile.json")
    with run_sandbox(config=sandbox_options(profile)) as sb:
        print(sb.config()["duplicate_eid"])  # your DAG tests meet the behaviour your account showed
    print(unreplayable(profile))  # what the sandbox cannot play yet
    # [END howto_profile_in_sandbox]
