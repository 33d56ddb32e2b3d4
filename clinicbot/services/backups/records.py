"""What the health check and the alerts read: the last backup, its age and result.

Each finished backup is a ``backup_runs`` row, written after the archive is complete (so the
archive never holds its own row).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinicbot import clock
from clinicbot.db.engine import get_engine, session_scope
from clinicbot.db.models import BackupRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LastBackup:
    """The newest backup run, and when a backup last succeeded (None: never)."""

    finished_at: datetime
    ok: bool
    archive: str | None
    size_bytes: int | None
    error: str | None
    last_success_at: datetime | None

    def age_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds since the last successful backup (None: there never was one)."""
        if self.last_success_at is None:
            return None
        return ((now or clock.now()) - self.last_success_at).total_seconds()

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """For ``/health/detailed``: result, when, age of the last good one, size, error."""
        return {
            "status": "ok" if self.ok else "failed",
            "finished_at": self.finished_at.isoformat(),
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "age_seconds": self.age_seconds(now),
            "archive": self.archive,
            "size_bytes": self.size_bytes,
            "error": self.error,
        }


def record_run(engine: Engine, **values: Any) -> bool:
    """Store one run; False (logged) when the database cannot take it, e.g. it is down, which
    is also why a dump fails: the backup's own result must not be lost in a crash."""
    try:
        with session_scope(engine) as session:
            session.add(BackupRun(**values))
    except SQLAlchemyError:
        logger.exception("could not record the backup run in backup_runs: %s", values.get("status"))
        return False
    return True


def last_backup(engine: Engine | None = None) -> LastBackup | None:
    """The newest recorded backup (None when no backup ever ran)."""
    with session_scope(engine or get_engine()) as session:
        newest = session.execute(
            select(BackupRun).order_by(BackupRun.finished_at.desc(), BackupRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        if newest is None:
            return None
        last_success_at = session.execute(
            select(BackupRun.finished_at)
            .where(BackupRun.status == "ok")
            .order_by(BackupRun.finished_at.desc())
            .limit(1)
        ).scalar_one_or_none()
    return LastBackup(
        finished_at=newest.finished_at,
        ok=newest.status == "ok",
        archive=newest.archive,
        size_bytes=newest.size_bytes,
        error=newest.error,
        last_success_at=last_success_at,
    )
