"""``python -m airflow_provider_altcraft.sandbox``."""

from __future__ import annotations

import sys

from airflow_provider_altcraft.sandbox.cli import main

sys.exit(main())
