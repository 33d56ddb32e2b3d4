"""Rotation: 7 daily, 4 weekly, 6 monthly, counted in clinic-local periods.

Under a pinned clock at 02:00 clinic time, what stays on disk and in the (fake, over HTTP) S3
bucket after the nightly backups is the hand-computed set.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from clinicbot.db.engine import make_engine
from clinicbot.services.backups.archives import (
    archive_name,
    checksum_path,
    local_archives,
    write_checksum,
)
from clinicbot.services.backups.fingerprint import table_fingerprints
from clinicbot.services.backups.rotation import RetentionPolicy, to_keep
from clinicbot.services.backups.runner import BackupRunner
from clinicbot.settings import read_settings
from tests.backups.cli import cli
from tests.backups.s3_fake import ACCESS_KEY, SECRET_KEY, new_bucket, s3_server, storage
from tests.services.notify_support import FrozenClock
from tests.support.databases import Databases

TZ = ZoneInfo("America/Sao_Paulo")
FIRST_NIGHT = date(2031, 1, 1)  # a Wednesday
NIGHTS = 200  # the last is Saturday 2031-07-19
EXPECTED_DAYS = {
    # daily: the last 7 nights
    *(date(2031, 7, day) for day in range(13, 20)),
    # weekly (ISO weeks, newest of each): 19/7 and 13/7 already kept, then 6/7 and 29/6
    date(2031, 7, 6),
    date(2031, 6, 29),
    # monthly (newest of each): July's already kept, then the month ends
    date(2031, 6, 30),
    date(2031, 5, 31),
    date(2031, 4, 30),
    date(2031, 3, 31),
    date(2031, 2, 28),
}


def clinic_days(names: dict[str, datetime]) -> set[date]:
    return {moment.astimezone(TZ).date() for moment in names.values()}


def test_the_policy_counts_clinic_days_weeks_and_months() -> None:
    """23:30 in São Paulo is already tomorrow in UTC: it still counts for the clinic's day."""
    late = datetime(2031, 3, 10, 23, 30, tzinfo=TZ)
    backups = {
        "late": late,
        "same-day-earlier": late - timedelta(hours=20),
        "day-before": late - timedelta(days=1),
        "last-month": datetime(2031, 2, 3, 2, tzinfo=TZ),
    }
    assert to_keep(backups, RetentionPolicy(daily=1, weekly=0, monthly=0), TZ) == {"late"}
    assert to_keep(backups, RetentionPolicy(daily=2, weekly=0, monthly=0), TZ) == {
        "late",
        "day-before",
    }
    assert to_keep(backups, RetentionPolicy(daily=0, weekly=0, monthly=2), TZ) == {
        "late",
        "last-month",
    }
    # Nothing kept by any rule: the newest still is.
    assert to_keep(backups, RetentionPolicy(daily=0, weekly=0, monthly=0), TZ) == {"late"}


def night(number: int) -> datetime:
    """02:00 clinic time on the ``number``-th night (0: the first)."""
    return datetime.combine(FIRST_NIGHT + timedelta(days=number), time(2), tzinfo=TZ)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_after_200_nights_7_daily_4_weekly_6_monthly_are_left(
    engine: Engine, tmp_path: Path
) -> None:
    """199 nights of archives on disk; the 200th night's backup prunes to the policy."""
    settings = dataclasses.replace(read_settings(), clinic_tz_name=str(TZ))
    for number in range(NIGHTS - 1):
        old = tmp_path / archive_name(night(number), "sqlite")
        old.write_bytes(b"old archive")
        write_checksum(old)
    (tmp_path / "notes.txt").write_text("not an archive: never touched")
    clock = FrozenClock(night(NIGHTS - 1))
    runner = BackupRunner.from_settings(settings, engine=engine, directory=tmp_path, clock=clock)
    result = runner.run()
    assert result.ok, result.error

    left = local_archives(tmp_path)
    assert clinic_days(left) == EXPECTED_DAYS
    assert len(left) == len(EXPECTED_DAYS) == 14
    assert len(result.pruned) == NIGHTS - 14
    # Each archive kept its checksum file; no pruned archive left one behind.
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [*left, *(checksum_path(tmp_path / name).name for name in left), "notes.txt"]
    )
    assert min(left.values()) == datetime(2031, 2, 28, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_nightly_backups_are_uploaded_and_rotated_in_s3_too(
    engine: Engine, databases: Databases, tmp_path: Path
) -> None:
    """Ten real nights against a fake S3 over HTTP, keeping 3 daily, 1 weekly, 2 monthly."""
    settings = dataclasses.replace(
        read_settings(),
        clinic_tz_name=str(TZ),
        backup_keep_daily=3,
        backup_keep_weekly=1,
        backup_keep_monthly=2,
    )
    clock = FrozenClock(datetime(2031, 1, 25, 2, tzinfo=TZ))  # Saturday; the 10th is 3 Feb
    with s3_server() as endpoint:
        remote = storage(endpoint, new_bucket(endpoint))
        runner = BackupRunner.from_settings(
            settings, engine=engine, directory=tmp_path, clock=clock
        )
        runner.storage = remote
        for _night in range(10):
            result = runner.run()
            assert result.ok, result.error
            assert result.archive is not None
            assert result.uploaded_to == remote.url(result.archive.name)
            clock.advance(days=1)
        remote_left = remote.archives()
        fetched = remote.download(result.archive.name, tmp_path / "fetched")
        # The operator's way back: the CLI fetches the archive from the bucket and restores it.
        target = databases.new_url("sqlite")
        done = cli(
            "restore",
            result.archive.name,
            "--from-s3",
            "--database-url",
            target,
            database_url=target,
            BACKUP_S3_BUCKET=remote.bucket,
            BACKUP_S3_PREFIX=remote.prefix,
            BACKUP_S3_ENDPOINT_URL=endpoint,
            BACKUP_S3_ACCESS_KEY_ID=ACCESS_KEY,
            BACKUP_S3_SECRET_ACCESS_KEY=SECRET_KEY,
        )
        assert done.returncode == 0, done.stderr
    restored = make_engine(target)
    try:
        # The last archive holds the nine runs before it (its own is recorded afterwards).
        assert table_fingerprints(restored)["backup_runs"][0] == 9
    finally:
        restored.dispose()

    # daily: 3, 2 and 1 February; weekly (ISO week of 3 Feb): kept already; monthly: 31 Jan.
    expected = {date(2031, 2, 3), date(2031, 2, 2), date(2031, 2, 1), date(2031, 1, 31)}
    assert clinic_days(local_archives(tmp_path)) == expected
    assert clinic_days(remote_left) == expected
    assert fetched.read_bytes() == result.archive.read_bytes()
    assert checksum_path(fetched).read_text() == checksum_path(result.archive).read_text()
