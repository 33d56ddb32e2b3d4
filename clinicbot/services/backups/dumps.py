"""Copying a live database to an archive and an archive into a database.

SQLite goes through its online backup API (a consistent copy while the assistant keeps
writing), then gzip. PostgreSQL goes through ``pg_dump -Fc`` (one consistent snapshot,
compressed) and ``pg_restore``; the password travels in ``PGPASSWORD``, never on the command
line, where ``ps`` would show it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from clinicbot.db.engine import make_engine, sqlite_file


class BackupError(Exception):
    """A dump or a restore failed; the message says why (no secret in it)."""


def backend_of_url(url: str) -> str:
    backend: str = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend} database")
    return backend


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``url`` without its password, and the environment carrying it."""
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(command: list[str], env: dict[str, str], timeout: float) -> None:
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as error:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)") from error
    except subprocess.TimeoutExpired as error:
        raise BackupError(f"{command[0]} did not finish within {timeout:.0f} s") from error
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())[:500]
        raise BackupError(f"{command[0]} failed (exit {result.returncode}): {detail}")


def dump(url: str, archive: Path, *, timeout: float = 3600.0) -> None:
    """Write the database at ``url`` to ``archive`` (``.sqlite.gz`` or ``.pgdump``)."""
    if backend_of_url(url) == "postgresql":
        uri, env = _libpq(url)
        _run(["pg_dump", "--format=custom", f"--file={archive}", f"--dbname={uri}"], env, timeout)
        return
    source = sqlite_file(url)
    if source is None or not source.exists():
        raise BackupError(f"no SQLite database file at {source}")
    with tempfile.TemporaryDirectory(dir=archive.parent) as work:
        copy = Path(work) / "copy.db"
        with (
            closing(sqlite3.connect(source, timeout=30)) as live,
            closing(sqlite3.connect(copy)) as target,
        ):
            live.backup(target)
        with copy.open("rb") as raw, gzip.open(archive, "wb", compresslevel=6) as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)


def is_empty(url: str) -> bool:
    """Whether the database at ``url`` has no table (a fresh database to restore into)."""
    engine = make_engine(url, statement_timeout=False)
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    finally:
        engine.dispose()


def restore(archive: Path, url: str, *, replace: bool = False, timeout: float = 3600.0) -> None:
    """Load ``archive`` into the database at ``url``.

    The target must be empty unless ``replace``: then a PostgreSQL target loses the objects the
    archive holds before they are recreated, and a SQLite target is overwritten whole.
    """
    backend = backend_of_url(url)
    if not archive.name.endswith(".pgdump" if backend == "postgresql" else ".sqlite.gz"):
        raise BackupError(f"{archive.name} is not a {backend} backup")
    if not replace and not is_empty(url):
        raise BackupError("the target database is not empty (restore into a fresh one)")
    if backend == "postgresql":
        uri, env = _libpq(url)
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
        command += ["--clean", "--if-exists"] if replace else ["--single-transaction"]
        _run([*command, f"--dbname={uri}", str(archive)], env, timeout)
        return
    target = sqlite_file(url)
    if target is None:
        raise BackupError("restore needs a SQLite database file, not an in-memory database")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        copy = Path(work) / "restore.db"
        with gzip.open(archive, "rb") as packed, copy.open("wb") as raw:
            shutil.copyfileobj(packed, raw, 1 << 20)
        with closing(sqlite3.connect(copy)) as source:
            verdict = source.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"the archive's database is damaged: {verdict}")
            with closing(sqlite3.connect(target, timeout=30)) as destination:
                source.backup(destination)
