"""The last backup, as health and alerts report it.

HOOK for the backups work (issue #13, point 4): :func:`last_backup` returns None until backups
exist; the backups module fills it from what it records of each run. Health shows the value as
``last_backup`` and the clinic service exports it as the ``clinicbot_last_backup_*`` gauges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class BackupStatus:
    """The newest backup run: when it finished, whether it succeeded, where it went."""

    finished_at: datetime
    ok: bool
    location: str | None = None
    error: str | None = None


def last_backup(engine: Engine | None = None) -> BackupStatus | None:
    """The newest backup run; None while no backup is known."""
    return None
