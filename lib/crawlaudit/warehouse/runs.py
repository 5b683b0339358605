"""The run log: one ``audit_runs`` row per audit of a snapshot, from running to succeeded, failed or
validation_failed (a critical expectation blocked publication)."""
from __future__ import annotations

import logging
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from crawlaudit import __version__
from crawlaudit.config import Config, config_to_dict
from crawlaudit.errors import ValidationFailed

log = logging.getLogger(__name__)


def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


class AuditRun:
    """Context manager recording a run: ``running`` on entry, ``succeeded``, ``validation_failed`` or ``failed``
    (with the error) on exit. ``counts`` set inside the block are stored with the final status. Exceptions propagate."""

    def __init__(self, wh, cfg: Config, snapshot: str):
        self.wh, self.cfg, self.snapshot = wh, cfg, snapshot
        self.run_id = str(uuid.uuid4())
        self.started_at = datetime.now(timezone.utc)
        self.counts: dict[str, int] = {}
        self.status = "running"

    def __enter__(self) -> "AuditRun":
        self._t0 = time.monotonic()
        self._record("running")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.status = ("succeeded" if exc is None else
                       "validation_failed" if isinstance(exc, ValidationFailed) else "failed")
        self.counts["elapsed_ms"] = int((time.monotonic() - self._t0) * 1000)
        message = None if exc is None else f"{type(exc).__name__}: {exc}"[:2000]
        try:
            self._record(self.status, message=message, finished=True)
        except Exception:  # never mask the audit's own error with a run-log failure
            log.exception("could not record the end of run %s", self.run_id)
            if exc is None:
                raise
        return False

    def _record(self, status: str, message: str | None = None, finished: bool = False) -> None:
        self.wh.record_run(
            self.run_id, self.snapshot, status, self.started_at,
            config=config_to_dict(self.cfg), code_version=code_version(), counts=self.counts,
            message=message, finished=finished,
        )
