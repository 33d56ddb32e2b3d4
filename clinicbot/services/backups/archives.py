"""Backup archives on disk: their names (which carry when they were taken) and checksums.

An archive is ``clinicbot-<UTC instant>.sqlite.gz`` (a gzip of a SQLite online-backup copy) or
``clinicbot-<UTC instant>.pgdump`` (``pg_dump -Fc``, compressed by pg_dump itself). Next to it,
``<archive>.sha256`` holds its SHA-256 in ``sha256sum`` format, so ``sha256sum -c`` checks it too.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

PREFIX = "clinicbot-"
SQLITE_SUFFIX = ".sqlite.gz"
POSTGRESQL_SUFFIX = ".pgdump"
CHECKSUM_SUFFIX = ".sha256"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(
    rf"^{PREFIX}(?P<stamp>\d{{8}}T\d{{6}}Z)(?P<suffix>{re.escape(SQLITE_SUFFIX)}"
    rf"|{re.escape(POSTGRESQL_SUFFIX)})$"
)


class ChecksumMismatch(Exception):
    """The archive is not the file its checksum was written for (corrupt or replaced)."""


def archive_name(taken_at: datetime, backend: str) -> str:
    suffix = SQLITE_SUFFIX if backend == "sqlite" else POSTGRESQL_SUFFIX
    return f"{PREFIX}{taken_at.astimezone(timezone.utc).strftime(_STAMP)}{suffix}"


def taken_at(name: str) -> datetime | None:
    """When the archive ``name`` was taken; None for a file that is not one of ours."""
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=timezone.utc)


def backend_of(name: str) -> str:
    return "sqlite" if name.endswith(SQLITE_SUFFIX) else "postgresql"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as archive:
        for block in iter(lambda: archive.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(archive: Path) -> Path:
    return archive.with_name(archive.name + CHECKSUM_SUFFIX)


def write_checksum(archive: Path) -> str:
    """Write ``<archive>.sha256``; returns the digest."""
    digest = sha256_of(archive)
    checksum_path(archive).write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    return digest


def verify_checksum(archive: Path) -> bool:
    """Check ``archive`` against its ``.sha256``: True when it matches, False when there is no
    checksum file; raises :class:`ChecksumMismatch` when it differs."""
    sidecar = checksum_path(archive)
    if not sidecar.exists():
        return False
    expected = sidecar.read_text(encoding="utf-8").split()[0].lower()
    actual = sha256_of(archive)
    if actual != expected:
        raise ChecksumMismatch(
            f"{archive.name}: SHA-256 {actual} but {sidecar.name} says {expected}"
        )
    return True


def local_archives(directory: Path) -> dict[str, datetime]:
    """Our archives in ``directory`` (name → when taken)."""
    if not directory.is_dir():
        return {}
    found = {path.name: taken_at(path.name) for path in directory.iterdir() if path.is_file()}
    return {name: moment for name, moment in found.items() if moment is not None}
