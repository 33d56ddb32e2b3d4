"""One backup: dump, checksum, upload, rotate, record. Scheduled nightly and run by the CLI.

Any number of clinic-service instances may fire the nightly job at once: the first takes a
lock (a PostgreSQL advisory lock, or a ``flock`` next to the SQLite file) and the others skip.
Whatever happens, the run ends in ``backup_runs``: the health check and the alerts read it.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.clock import Clock
from clinicbot.db.engine import sqlite_file
from clinicbot.db.types import utcnow
from clinicbot.services.backups import dumps
from clinicbot.services.backups.archives import (
    archive_name,
    checksum_path,
    local_archives,
    write_checksum,
)
from clinicbot.services.backups.records import record_run
from clinicbot.services.backups.rotation import RetentionPolicy, to_keep
from clinicbot.services.backups.storage import RemoteStorage
from clinicbot.settings import Settings

logger = logging.getLogger(__name__)

BACKUP_LOCK_KEY = 0x636C696E_6261636B  # any int64 every process agrees on


@dataclass(frozen=True)
class BackupResult:
    """What one run did; ``skipped``: another process was already backing up (not recorded)."""

    ok: bool
    archive: Path | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    uploaded_to: str | None = None
    error: str | None = None
    pruned: list[str] = field(default_factory=list)
    skipped: bool = False


@contextmanager
def _exclusive(engine: Engine) -> Iterator[bool]:
    """True inside when this process holds the backup lock, False when another one does.

    A PostgreSQL server that cannot be reached cannot be locked, nor dumped: True, so that the
    run goes on to fail and record why.
    """
    if engine.dialect.name == "postgresql":
        try:
            connection = engine.connect()
        except SQLAlchemyError:
            yield True
            return
        with connection:
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": BACKUP_LOCK_KEY}
            ).scalar_one()
            connection.commit()  # a session lock: no transaction left idle during the dump
            try:
                yield bool(held)
            finally:
                if held:
                    with suppress(SQLAlchemyError):  # a lost connection released it already
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": BACKUP_LOCK_KEY}
                        )
                        connection.commit()
        return
    database = sqlite_file(engine.url.render_as_string(hide_password=False))
    if database is None:
        yield True
        return
    with database.with_name(f"{database.name}.backup-lock").open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


class BackupRunner:
    """Backs up the database of ``engine`` into ``directory`` (and the remote storage)."""

    def __init__(
        self,
        *,
        engine: Engine,
        directory: Path,
        policy: RetentionPolicy,
        settings: Settings,
        storage: RemoteStorage | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.policy = policy
        self.settings = settings
        self.storage = storage
        self.clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        engine: Engine,
        directory: Path | None = None,
        clock: Clock = utcnow,
    ) -> BackupRunner:
        return cls(
            engine=engine,
            directory=directory or Path(settings.backup_dir),
            policy=RetentionPolicy(
                daily=settings.backup_keep_daily,
                weekly=settings.backup_keep_weekly,
                monthly=settings.backup_keep_monthly,
            ),
            settings=settings,
            storage=RemoteStorage.from_settings(settings),
            clock=clock,
        )

    def run(self) -> BackupResult:
        with _exclusive(self.engine) as mine:
            if not mine:
                logger.info("backup skipped: another process is backing up this database")
                return BackupResult(ok=False, skipped=True)
            return self._run_locked()

    def _run_locked(self) -> BackupResult:
        started = self.clock()
        url = self.engine.url.render_as_string(hide_password=False)
        backend = self.engine.dialect.name
        archive = self.directory / archive_name(started, backend)
        digest = uploaded = None
        size: int | None = None
        pruned: list[str] = []
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            dumps.dump(url, archive, timeout=self.settings.backup_timeout_seconds)
            size = archive.stat().st_size
            digest = write_checksum(archive)
            if self.storage is not None:
                try:
                    uploaded = self.storage.upload(archive)
                except Exception as error:  # boto3 raises many kinds; the local copy stays
                    where = self.storage.url("")
                    raise dumps.BackupError(f"upload to {where} failed: {error}") from error
            pruned = self._rotate()
        except Exception as error:  # every failure is recorded, so that it raises an alert
            message = str(error) or type(error).__name__
            logger.error("backup failed: %s", message)
            if digest is None:  # the dump did not complete: no half archive is left behind
                with suppress(OSError):
                    archive.unlink(missing_ok=True)
            record_run(
                self.engine,
                started_at=started,
                finished_at=self.clock(),
                status="failed",
                backend=backend,
                archive=archive.name if digest else None,
                size_bytes=size,
                sha256=digest,
                error=message[:2000],
            )
            return BackupResult(ok=False, archive=archive if digest else None, error=message)
        record_run(
            self.engine,
            started_at=started,
            finished_at=self.clock(),
            status="ok",
            backend=backend,
            archive=archive.name,
            size_bytes=size,
            sha256=digest,
            uploaded_to=uploaded,
        )
        logger.info(
            "backup %s: %d bytes, sha256 %s%s; pruned %d",
            archive.name,
            size,
            digest,
            f", uploaded to {uploaded}" if uploaded else "",
            len(pruned),
        )
        return BackupResult(
            ok=True,
            archive=archive,
            size_bytes=size,
            sha256=digest,
            uploaded_to=uploaded,
            pruned=pruned,
        )

    def _rotate(self) -> list[str]:
        """Delete the archives (here and remote) the retention policy no longer keeps."""
        tz = self.settings.clinic_tz
        local = local_archives(self.directory)
        pruned = sorted(set(local) - to_keep(local, self.policy, tz))
        for name in pruned:
            (self.directory / name).unlink(missing_ok=True)
            checksum_path(self.directory / name).unlink(missing_ok=True)
        if self.storage is not None:
            remote = self.storage.archives()
            remote_pruned = sorted(set(remote) - to_keep(remote, self.policy, tz))
            if remote_pruned:
                self.storage.delete(remote_pruned)
        return pruned
