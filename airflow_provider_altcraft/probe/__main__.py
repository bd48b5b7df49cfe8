"""``python -m airflow_provider_altcraft.probe``."""

from __future__ import annotations

import sys

from airflow_provider_altcraft.probe.cli import main

sys.exit(main())
