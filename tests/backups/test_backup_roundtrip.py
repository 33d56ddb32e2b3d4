"""A backup restored into a fresh database holds exactly what the original held.

The commands run as an operator runs them (``python -m clinicbot.cli backup`` / ``restore``),
on SQLite and PostgreSQL; every table is compared by row count and a checksum of its rows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from clinicbot.db.engine import make_engine
from clinicbot.services.backups import last_backup
from clinicbot.services.backups.archives import checksum_path, local_archives
from clinicbot.services.backups.fingerprint import table_fingerprints
from clinicbot.services.backups.runner import BackupResult, BackupRunner, _exclusive
from clinicbot.settings import read_settings
from tests.backups.cli import cli
from tests.backups.seed import seed
from tests.support.databases import Databases
from tests.support.services import POSTGRES_URL, require_postgres


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_backup_and_restore_round_trip(
    fresh_engine: Engine, backend: str, databases: Databases, tmp_path: Path
) -> None:
    seed(fresh_engine)
    before = table_fingerprints(fresh_engine)
    assert before["conversation_messages"][0] == 6  # 5 in, 1 out (the outbox logs it)

    done = cli("backup", "--output", str(tmp_path), database_url=url_of(fresh_engine))
    assert done.returncode == 0, done.stderr
    [name] = local_archives(tmp_path)
    archive = tmp_path / name
    assert name.endswith(".sqlite.gz" if backend == "sqlite" else ".pgdump")
    # The checksum file is in sha256sum's format: the standard tool agrees with it.
    checked = subprocess.run(
        ["sha256sum", "-c", checksum_path(archive).name], cwd=tmp_path, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout
    # Compressed: gzip, or pg_dump's custom format (compressed by default).
    magic = b"PGDMP" if backend == "postgresql" else b"\x1f\x8b\x08"
    assert archive.read_bytes().startswith(magic)

    recorded = last_backup(fresh_engine)
    assert recorded is not None and recorded.ok
    assert recorded.archive == name
    assert recorded.size_bytes == archive.stat().st_size

    target = databases.new_url(backend)
    done = cli("restore", str(archive), "--database-url", target, database_url=target)
    assert done.returncode == 0, done.stderr
    assert "conversation_messages" in done.stdout
    restored_engine = make_engine(target)
    try:
        restored = table_fingerprints(restored_engine)
    finally:
        restored_engine.dispose()
    assert restored == before
    assert restored["events"][0] == 1 and restored["outbox_messages"][0] == 1


def test_restore_refuses_a_damaged_archive_and_a_database_in_use(
    fresh_engine: Engine, backend: str, databases: Databases, tmp_path: Path
) -> None:
    seed(fresh_engine)
    done = cli("backup", "--output", str(tmp_path), database_url=url_of(fresh_engine))
    assert done.returncode == 0, done.stderr
    [name] = local_archives(tmp_path)
    archive = tmp_path / name

    # Into a database that already has tables: refused, and nothing in it changed.
    before = table_fingerprints(fresh_engine)
    done = cli("restore", str(archive), "--database-url", url_of(fresh_engine), database_url="")
    assert done.returncode == 1
    assert "not empty" in done.stderr
    assert table_fingerprints(fresh_engine) == before

    # One byte changed: the checksum catches it before anything is loaded.
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    target = databases.new_url(backend)
    done = cli("restore", str(archive), "--database-url", target, database_url=target)
    assert done.returncode == 1
    assert "SHA-256" in done.stderr


def test_a_failed_backup_is_recorded_and_leaves_no_half_archive(
    engine: Engine, tmp_path: Path
) -> None:
    """The backup directory cannot be written (a disk not mounted, a file in its place)."""
    blocked = tmp_path / "backups"
    blocked.write_text("not a directory")
    runner = BackupRunner.from_settings(read_settings(), engine=engine, directory=blocked)
    result = runner.run()
    assert not result.ok and not result.skipped
    recorded = last_backup(engine)
    assert recorded is not None and not recorded.ok
    assert recorded.error == result.error and recorded.archive is None
    assert recorded.last_success_at is None and recorded.age_seconds() is None
    assert blocked.read_text() == "not a directory"


def test_a_second_backup_at_the_same_time_is_skipped(engine: Engine, tmp_path: Path) -> None:
    """Two clinic-service instances fire the nightly job together: one backup, not two."""
    runner = BackupRunner.from_settings(read_settings(), engine=engine, directory=tmp_path)
    with _exclusive(engine) as mine:
        assert mine
        assert runner.run() == BackupResult(ok=False, skipped=True)
    assert last_backup(engine) is None
    assert runner.run().ok


def test_a_database_that_cannot_be_reached_fails_the_backup_cleanly(tmp_path: Path) -> None:
    """pg_dump fails, and so does recording the run: the caller gets the failure, no crash,
    no half archive (the alerts then see no new good backup and say so)."""
    require_postgres()
    missing = make_url(POSTGRES_URL).set(database="clinicbot_test_does_not_exist")
    engine = make_engine(missing.render_as_string(hide_password=False))
    try:
        runner = BackupRunner.from_settings(read_settings(), engine=engine, directory=tmp_path)
        result = runner.run()
    finally:
        engine.dispose()
    assert not result.ok
    assert (result.error or "").startswith("pg_dump failed (exit 1)")
    assert "does not exist" in (result.error or "")
    assert list(tmp_path.iterdir()) == []
