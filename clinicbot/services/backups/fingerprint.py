"""Row counts and a checksum of every table: what a restore is compared with."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine


def table_fingerprints(engine: Engine) -> dict[str, tuple[int, str]]:
    """Table → (rows, SHA-256 of its rows in a fixed order), over every table of the database
    (Rasa's and Alembic's included; on PostgreSQL each partition too)."""
    fingerprints: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table in sorted(inspector.get_table_names()):
            columns = len(inspector.get_columns(table))
            order = ", ".join(str(position) for position in range(1, columns + 1))
            quoted = connection.dialect.identifier_preparer.quote(table)
            rows = connection.execute(text(f"SELECT * FROM {quoted} ORDER BY {order}"))
            digest = hashlib.sha256()
            count = 0
            for row in rows:
                digest.update(json.dumps(list(row), default=str, sort_keys=True).encode())
                digest.update(b"\n")
                count += 1
            fingerprints[table] = (count, digest.hexdigest())
    return fingerprints
