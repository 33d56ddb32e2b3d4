"""Benchmark of the partitioned ``conversation_messages`` table on PostgreSQL.

Creates a throwaway database, migrates it, inserts one million messages spread over 13 months
(``generate_series``, through the real triggers), runs ANALYZE and records ``EXPLAIN (ANALYZE)``
for a one-month query (partition pruning), a patient's history (the ``(phone, created_at)``
index) and retention (dropping a month vs deleting it). Writes ``bench/db_report.md``.

    .venv/bin/python -m bench.db_partitions [--rows N] [--keep]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

from clinicbot.db.engine import make_engine
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.partitions import (
    drop_partitions_older_than,
    ensure_partitions,
    month_start,
    partition_name,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REPORT = Path(__file__).with_name("db_report.md")
MONTHS = 13
PATIENTS = 20_000
RETENTION_MONTHS = MONTHS - 2
TIMING_RUNS = 5

INSERT = """
INSERT INTO conversation_messages (
    phone, direction, text, intent, confidence, latency_ms, channel, external_message_id,
    status, created_at
)
SELECT
    '5531' || lpad(((g * 7919) % :patients)::text, 9, '0'),
    CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END,
    'mensagem de teste número ' || g,
    CASE WHEN g % 2 = 0 THEN (ARRAY['agendar', 'cancelar', 'confirmar', 'saudacao'])[g % 4 + 1] END,
    CASE WHEN g % 2 = 0 THEN 0.5 + (g % 50) / 100.0 END,
    CASE WHEN g % 2 = 1 THEN 200 + (g * 31) % 2500 END,
    'whatsapp',
    'wamid.' || g,
    CASE WHEN g % 2 = 0 THEN 'received' ELSE 'delivered' END,
    CAST(:start AS timestamptz) + (CAST(:end AS timestamptz) - CAST(:start AS timestamptz))
        * (g / CAST(:rows AS float8))
FROM generate_series(CAST(0 AS bigint), :rows - 1) AS g
"""


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _explain(connection: Connection, query: str) -> str:
    rows = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {query}")).scalars()
    return "\n".join(rows)


def _median_ms(connection: Connection, query: str) -> float:
    return statistics.median(
        _timed(lambda: connection.execute(text(query)).all()) for _ in range(TIMING_RUNS)
    )


def _create_database(admin: Engine) -> str:
    name = f"clinicbot_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _load(engine: Engine, rows: int, first_month: date, end: datetime) -> float:
    parameters = {"rows": rows, "patients": PATIENTS, "start": _utc(first_month), "end": end}
    with engine.begin() as connection:
        return _timed(lambda: connection.execute(text(INSERT), parameters))


def _delete_month_ms(engine: Engine, month: date) -> float:
    """How long deleting a month row by row takes (rolled back: the data stays)."""
    with engine.connect() as connection, connection.begin() as transaction:
        elapsed = _timed(
            lambda: connection.execute(
                text(
                    "DELETE FROM conversation_messages "
                    "WHERE created_at >= :lower AND created_at < :upper"
                ),
                {"lower": _utc(month), "upper": _utc(month_start(month, 1))},
            )
        )
        transaction.rollback()
    return elapsed


def _delete_keys_ms(engine: Engine, before: date) -> float:
    """Retention's row-by-row part: the dedupe keys of the dropped month (not partitioned)."""
    with engine.begin() as connection:
        return _timed(
            lambda: connection.execute(
                text("DELETE FROM conversation_message_keys WHERE created_at < :cutoff"),
                {"cutoff": _utc(before)},
            )
        )


def _rows_per_partition(connection: Connection) -> list[tuple[str, int]]:
    return connection.execute(
        text(
            "SELECT tableoid::regclass::text AS part, count(*) FROM conversation_messages "
            "GROUP BY 1 ORDER BY 1"
        )
    ).all()


def _size(connection: Connection) -> str:
    return connection.execute(
        text(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits "
            "WHERE inhparent = 'conversation_messages'::regclass"
        )
    ).scalar_one()


def _section(title: str, query: str, median_ms: float, plan: str) -> str:
    return (
        f"### {title}\n\n```sql\n{query.strip()}\n```\n\n"
        f"Median of {TIMING_RUNS} runs: **{median_ms:.2f} ms**\n\n```\n{plan}\n```\n"
    )


def _measure_queries(connection: Connection, now: datetime) -> list[str]:
    """Timing and EXPLAIN (ANALYZE) of the queries the assistant and reports run."""
    month = month_start(now.date(), -6)
    lower, upper = month.isoformat(), month_start(month, 1).isoformat()
    patient = "5531" + "1234".zfill(9)
    queries = [
        (
            f"One month ({month:%Y-%m}), constant bounds: plan-time pruning",
            f"SELECT count(*), avg(latency_ms) FROM conversation_messages\n"
            f"WHERE created_at >= '{lower} 00:00+00' AND created_at < '{upper} 00:00+00'",
        ),
        (
            "Last month, bounds from now(): run-time pruning",
            "SELECT count(*) FROM conversation_messages\n"
            "WHERE created_at >= date_trunc('month', now()) - interval '1 month'\n"
            "  AND created_at < date_trunc('month', now())",
        ),
        (
            "One patient's latest 20 messages (whole history)",
            "SELECT created_at, direction, text, intent FROM conversation_messages\n"
            f"WHERE phone = '{patient}' ORDER BY created_at DESC LIMIT 20",
        ),
        (
            "One patient's last 90 days",
            "SELECT created_at, direction, text, intent FROM conversation_messages\n"
            f"WHERE phone = '{patient}' AND created_at >= now() - interval '90 days'\n"
            "ORDER BY created_at",
        ),
    ]
    return [
        _section(title, query, _median_ms(connection, query), _explain(connection, query))
        for title, query in queries
    ]


def run(rows: int, keep: bool) -> str:
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    url = _create_database(admin)
    engine = make_engine(url)
    try:
        now = datetime.now(timezone.utc)
        first_month = month_start(now.date(), -(MONTHS - 1))
        upgrade_to_head(url)
        ensure_partitions(engine, months_ahead=MONTHS - 1, today=first_month)
        load_ms = _load(engine, rows, first_month, now)
        with engine.connect() as connection:
            analyze_ms = _timed(lambda: connection.execute(text("ANALYZE conversation_messages")))
            connection.commit()
            partitions = _rows_per_partition(connection)
            size = _size(connection)
            sections = _measure_queries(connection, now)
        second = month_start(first_month, 1)
        delete_ms = _delete_month_ms(engine, second)
        keys_ms = _delete_keys_ms(engine, before=second)
        # Keeping this month and the 11 before it drops exactly the oldest of the 13 months.
        retention_ms = _timed(lambda: drop_partitions_older_than(engine, months=RETENTION_MONTHS))
        counts = dict(partitions)
        oldest = partition_name(first_month)
        report = _report(
            rows=rows,
            load_ms=load_ms,
            analyze_ms=analyze_ms,
            partitions=partitions,
            size=size,
            sections=sections,
            delete_ms=delete_ms,
            delete_rows=counts.get(partition_name(second), 0),
            oldest=oldest,
            oldest_rows=counts.get(oldest, 0),
            keys_ms=keys_ms,
            retention_ms=retention_ms,
        )
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as connection:
                name = make_url(url).database
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    return report


def _report(
    *,
    rows: int,
    load_ms: float,
    analyze_ms: float,
    partitions: list[tuple[str, int]],
    size: str,
    sections: list[str],
    delete_ms: float,
    delete_rows: int,
    oldest: str,
    oldest_rows: int,
    keys_ms: float,
    retention_ms: float,
) -> str:
    generated = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"
    retention = f"`drop_partitions_older_than(months={RETENTION_MONTHS})`"
    partition_lines = "\n".join(f"| {name} | {count:,} |" for name, count in partitions)
    return f"""# conversation_messages partitioning benchmark

Generated by `.venv/bin/python -m bench.db_partitions` on {generated} UTC
(PostgreSQL on the 2-core development machine, shared with other work: timings are indicative).

## Setup

- {rows:,} messages over {MONTHS} months (oldest month to now), {PATIENTS:,} patients,
  half inbound and half outbound, every row with an external message id.
- Inserted with one `INSERT … SELECT generate_series` through the partitioned parent, so the
  real triggers ran (dedupe key per row into `conversation_message_keys`).
- Total size of the partitions (heap + indexes): {size}.

| Step | Time |
| --- | --- |
| Insert {rows:,} rows (with dedupe-key trigger) | {load_ms / 1000:.1f} s |
| ANALYZE conversation_messages | {analyze_ms / 1000:.1f} s |
| DELETE one month ({delete_rows:,} rows, rolled back) | {delete_ms:,.0f} ms |
| Retention, part 1: delete that month's {oldest_rows:,} dedupe keys | {keys_ms:,.0f} ms |
| Retention, part 2: {retention} dropping {oldest} | {retention_ms:,.0f} ms |

Dropping a partition is a catalog change: its cost does not grow with the rows in it, and it
leaves no dead tuples behind, whereas the DELETE leaves {delete_rows:,} dead rows in the table
and its indexes for VACUUM. The dedupe keys (a narrow table, not partitioned) are deleted by
age through `ix_conversation_message_keys_created_at`.

<details><summary>Rows per partition</summary>

| Partition | Rows |
| --- | --- |
{partition_lines}

</details>

## Query plans

{chr(10).join(sections)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    report = run(args.rows, args.keep)
    REPORT.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
