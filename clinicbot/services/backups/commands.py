"""``python -m clinicbot.cli backup [--output DIR]`` and ``restore FILE --database-url URL``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from clinicbot.db.engine import make_engine
from clinicbot.services.backups import dumps
from clinicbot.services.backups.archives import ChecksumMismatch, verify_checksum
from clinicbot.services.backups.fingerprint import table_fingerprints
from clinicbot.services.backups.runner import BackupRunner
from clinicbot.services.backups.storage import RemoteStorage
from clinicbot.settings import get_settings


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    backup_parser = commands.add_parser("backup", help="back up the database (DATABASE_URL) now")
    backup_parser.add_argument(
        "--output", type=Path, help="directory of the archives (default: BACKUP_DIR)"
    )
    backup_parser.set_defaults(handler=backup)
    restore_parser = commands.add_parser(
        "restore", help="load a backup archive into a database (checks its SHA-256 first)"
    )
    restore_parser.add_argument(
        "file", help="the archive: a path, or the name of one in BACKUP_S3_BUCKET with --from-s3"
    )
    restore_parser.add_argument("--database-url", required=True, help="the database to fill")
    restore_parser.add_argument(
        "--from-s3", action="store_true", help="download FILE from the configured bucket first"
    )
    restore_parser.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a database that is not empty (default: refuse)",
    )
    restore_parser.set_defaults(handler=restore)


def backup(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.database_url, statement_timeout=False)
    try:
        result = BackupRunner.from_settings(settings, engine=engine, directory=args.output).run()
    finally:
        engine.dispose()
    if result.skipped:
        print("another process is backing up this database right now; nothing done")
        return 1
    if not result.ok:
        print(f"backup failed: {result.error}", file=sys.stderr)
        return 1
    print(f"backup written: {result.archive} ({result.size_bytes} bytes, sha256 {result.sha256})")
    if result.uploaded_to:
        print(f"uploaded to {result.uploaded_to}")
    if result.pruned:
        print(f"removed by the retention policy: {', '.join(result.pruned)}")
    return 0


def restore(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as work:
        archive = Path(args.file)
        if args.from_s3:
            storage = RemoteStorage.from_settings(get_settings())
            if storage is None:
                print("--from-s3 needs BACKUP_S3_BUCKET", file=sys.stderr)
                return 2
            archive = storage.download(args.file, Path(work))
        if not archive.is_file():
            print(f"no such archive: {archive}", file=sys.stderr)
            return 2
        try:
            checked = verify_checksum(archive)
            dumps.restore(
                archive,
                args.database_url,
                replace=args.replace,
                timeout=get_settings().backup_timeout_seconds,
            )
        except (ChecksumMismatch, dumps.BackupError) as error:
            print(f"restore refused or failed: {error}", file=sys.stderr)
            return 1
    if not checked:
        print(f"warning: no {archive.name}.sha256 beside the archive: checksum not checked")
    engine = make_engine(args.database_url)
    try:
        tables = table_fingerprints(engine)
    finally:
        engine.dispose()
    print(f"restored {archive.name}: {len(tables)} tables")
    for table, (rows, _digest) in tables.items():
        print(f"  {table}: {rows} rows")
    return 0
