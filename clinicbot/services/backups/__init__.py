"""Backups of the application database (issue 13, point 4).

Nightly at ``BACKUP_SCHEDULE`` (clinic time) from the clinic service's scheduler, or on demand
with ``python -m clinicbot.cli backup [--output DIR]``: SQLite through its online backup API,
PostgreSQL through ``pg_dump -Fc``; each archive compressed, with a SHA-256 file beside it,
optionally uploaded to S3-compatible storage, rotated (7 daily, 4 weekly, 6 monthly by
default) and recorded in ``backup_runs``. ``python -m clinicbot.cli restore FILE
--database-url URL`` checks the checksum and loads an archive into a fresh database.

:func:`last_backup` is what the health check and the alerts read.
"""

from __future__ import annotations

from clinicbot.services.backups.records import LastBackup, last_backup
from clinicbot.services.backups.runner import BackupResult, BackupRunner

__all__ = ["BackupResult", "BackupRunner", "LastBackup", "last_backup"]
