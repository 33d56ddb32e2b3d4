"""Monthly partitions of ``conversation_messages`` on PostgreSQL, and message retention.

Partitions are named ``conversation_messages_yYYYYmMM`` and cover whole UTC months. A scheduled
job calls :func:`ensure_partitions` so next months' partitions exist before rows arrive; rows
that arrive anyway land in ``conversation_messages_default`` and are moved into their month's
partition when it is created. :func:`drop_partitions_older_than` enforces retention by dropping
whole partitions, which costs the same for ten rows or ten million.

On SQLite there are no partitions: :func:`ensure_partitions` does nothing and retention deletes
the old rows, so callers need not know which backend they run on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import delete, text
from sqlalchemy.engine import Connection, Engine

from clinicbot.db.models import ConversationMessage, ConversationMessageKey
from clinicbot.db.types import utcnow

PARENT = "conversation_messages"
DEFAULT_PARTITION = f"{PARENT}_default"
# Serialises partition maintenance across processes (any int64 both sides agree on).
PARTITION_LOCK_KEY = 0x636C696E_70617274
_MESSAGES = ConversationMessage.__table__
_KEYS = ConversationMessageKey.__table__
_PARTITION_NAME = re.compile(rf"^{PARENT}_y(\d{{4}})m(\d{{2}})$")


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime
    dropped_partitions: list[str]
    deleted_rows: int


def month_start(day: date, months_later: int = 0) -> date:
    """The first day of ``day``'s month, shifted by ``months_later`` months (may be negative)."""
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _utc_today() -> date:
    return utcnow().date()


def monthly_partitions(connection: Connection) -> dict[date, str]:
    """The monthly partitions attached to ``conversation_messages``, by first day of month."""
    names = connection.execute(
        text(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    ).scalars()
    found = {}
    for name in names:
        match = _PARTITION_NAME.match(name)
        if match:
            found[date(int(match[1]), int(match[2]), 1)] = name
    return found


def _create_partition(connection: Connection, month: date) -> str:
    """Create and attach ``month``'s partition, moving in rows the default partition caught.

    PostgreSQL refuses to attach a range the default partition has rows for, so the table is
    built detached, filled from the default partition, then attached.
    """
    name = partition_name(month)
    lower, upper = _utc_midnight(month), _utc_midnight(month_start(month, 1))
    connection.execute(
        text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    )
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE created_at >= :lower AND created_at < :upper RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lower": lower, "upper": upper},
    )
    connection.execute(
        text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
        )
    )
    return name


def _lock(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK_KEY})


def ensure_partitions(
    engine: Engine, months_ahead: int = 3, *, today: date | None = None
) -> list[str]:
    """Make sure partitions exist from this month to ``months_ahead`` months later.

    Safe to run from several processes at once; returns the names of partitions it created.
    """
    if engine.dialect.name != "postgresql":
        return []
    first = month_start(today or _utc_today())
    with engine.begin() as connection:
        _lock(connection)
        existing = monthly_partitions(connection)
        return [
            _create_partition(connection, month)
            for month in (month_start(first, offset) for offset in range(months_ahead + 1))
            if month not in existing
        ]


def drop_partitions_older_than(
    engine: Engine, months: int, *, today: date | None = None
) -> RetentionResult:
    """Delete messages from before the month ``months`` months ago (this month counts as 0).

    With ``months=12`` in June 2025, everything before 2024-06-01 goes. PostgreSQL drops the
    partitions wholly before the cutoff and deletes stragglers from the default partition.
    """
    if months < 1:
        raise ValueError("retention must keep at least one month")
    cutoff = _utc_midnight(month_start(today or _utc_today(), -months))
    dropped: list[str] = []
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            _lock(connection)
            for month, name in sorted(monthly_partitions(connection).items()):
                if _utc_midnight(month_start(month, 1)) <= cutoff:
                    connection.execute(text(f"DROP TABLE {name}"))
                    dropped.append(name)
            deleted = connection.execute(
                text(f"DELETE FROM {DEFAULT_PARTITION} WHERE created_at < :cutoff"),
                {"cutoff": cutoff},
            ).rowcount
        else:
            deleted = connection.execute(
                delete(_MESSAGES).where(_MESSAGES.c.created_at < cutoff)
            ).rowcount
        connection.execute(delete(_KEYS).where(_KEYS.c.created_at < cutoff))
    return RetentionResult(cutoff=cutoff, dropped_partitions=dropped, deleted_rows=deleted)
