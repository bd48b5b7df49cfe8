"""``altcraft-probe``: turn each unknown of the Altcraft API into a measured fact.

Run it against a real account, on a dedicated test member (see docs/probe.md). It records
what the server did into a profile (JSON, ``altcraft-probe-profile/1``) that the sandbox can
replay (:func:`airflow_provider_altcraft.sandbox.profile.sandbox_options`) and the hook can
read (:func:`airflow_provider_altcraft.server_profile.load_profile`).

Importing this package is cheap: Airflow and the hook are imported only when the probe runs.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``altcraft-probe`` console script."""
    from airflow_provider_altcraft.probe.cli import main as cli_main

    return cli_main(argv)
