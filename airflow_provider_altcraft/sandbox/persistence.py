"""The optional state file: the sandbox's state survives a restart.

Written atomically (temporary file + ``os.replace``) so a crash never leaves half a file, and
debounced by the server loop (at most every ~0.5 s, only after a change) so that a burst of
requests costs one write.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_altcraft.sandbox.app import SandboxApp

__all__ = ["STATE_FORMAT", "StateFile"]

STATE_FORMAT = "altcraft-sandbox-state/1"


class StateFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._saved: tuple[int, int, int] | None = None

    @staticmethod
    def _fingerprint(app: SandboxApp) -> tuple[int, int, int]:
        # The ledger bumps its version on each mutation; config/seed objects are replaced.
        return (app.ledger.version, id(app.config), id(app.reset_seed))

    def load(self, app: SandboxApp) -> bool:
        """Load the file into ``app`` if it exists; returns whether it did."""
        if not self.path.exists():
            return False
        doc: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        if doc.get("format") != STATE_FORMAT:
            raise ValueError(f"{self.path}: not an altcraft-sandbox state file")
        app.reset_seed = doc.get("seed")
        app.ledger.load_state(doc["ledger"])
        app.config = app.startup_config.updated(doc.get("config", {}))
        self._saved = self._fingerprint(app)
        return True

    def save_if_changed(self, app: SandboxApp) -> bool:
        fingerprint = self._fingerprint(app)
        if fingerprint == self._saved:
            return False
        self.save(app)
        self._saved = fingerprint
        return True

    def save(self, app: SandboxApp) -> None:
        doc = {
            "format": STATE_FORMAT,
            "seed": app.reset_seed,
            "config": app.config.as_dict(),
            "ledger": app.ledger.to_state(),
        }
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
