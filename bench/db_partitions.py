"""Benchmark of the partitioned ``conversation_messages`` table on PostgreSQL.

Creates a throwaway database, migrates it, inserts one million messages spread over 13 months
(``generate_series``, through the real triggers), runs ANALYZE and records ``EXPLAIN (ANALYZE)``
for a one-month query (partition pruning), a patient's history (the ``(phone, created_at)``
index) and retention (dropping a month vs deleting it). Writes ``bench/db_report.md``, stamped
with the commit and the machine (:mod:`bench.report`); what the report says about pruning and
scans is read from the plans of that run.

    .venv/bin/python -m bench.db_partitions [--rows N] [--keep]
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

from bench.report import Stamp, command_line, header_lines
from clinicbot.db.engine import make_engine
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.partitions import (
    RetentionResult,
    drop_partitions_older_than,
    ensure_partitions,
    month_start,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REPORT = Path(__file__).with_name("db_report.md")
MONTHS = 13
PATIENTS = 20_000
RETENTION_MONTHS = MONTHS - 2
TIMING_RUNS = 5
# In EXPLAIN text: a partition after " on " (an index name continues with "_…", so \b stops it),
# and a plan node's type before "using"/"on".
PLAN_PARTITION = re.compile(r" on (conversation_messages_(?:y\d{4}m\d{2}|default))\b")
PLAN_SCAN = re.compile(r"(?:->\s+|^)([A-Z][A-Za-z ]*?Scan(?: Backward)?) (?:using|on) ")
PLAN_REMOVED = re.compile(r"Subplans Removed: (\d+)")

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


def _timed_rowcount(
    connection: Connection, statement: str, parameters: dict[str, object]
) -> tuple[float, int]:
    """(milliseconds, rows affected) of one statement."""
    started = time.perf_counter()
    rowcount = connection.execute(text(statement), parameters).rowcount
    return (time.perf_counter() - started) * 1000, rowcount


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


def _delete_month(engine: Engine, month: date) -> tuple[float, int]:
    """(ms, rows) of deleting a month row by row, rolled back: the data stays."""
    with engine.connect() as connection, connection.begin() as transaction:
        measured = _timed_rowcount(
            connection,
            "DELETE FROM conversation_messages WHERE created_at >= :lower AND created_at < :upper",
            {"lower": _utc(month), "upper": _utc(month_start(month, 1))},
        )
        transaction.rollback()
    return measured


def _delete_keys(engine: Engine, before: date) -> tuple[float, int]:
    """(ms, rows) of retention's row-by-row part: the dedupe keys from before ``before``."""
    with engine.begin() as connection:
        return _timed_rowcount(
            connection,
            "DELETE FROM conversation_message_keys WHERE created_at < :cutoff",
            {"cutoff": _utc(before)},
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


def _partition_count(connection: Connection) -> int:
    return connection.execute(
        text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'conversation_messages'::regclass")
    ).scalar_one()


def _plan_summary(plan: str, partitions: int) -> str:
    """Which partitions the plan touched and how, read from the EXPLAIN (ANALYZE) text."""
    lines = plan.splitlines()
    listed = {match for line in lines for match in PLAN_PARTITION.findall(line)}
    never = {
        match
        for line in lines
        if "(never executed)" in line
        for match in PLAN_PARTITION.findall(line)
    }
    removed = sum(int(n) for line in lines for n in PLAN_REMOVED.findall(line))
    scans = Counter(match.strip() for line in lines for match in PLAN_SCAN.findall(line))
    return (
        f"From the plan: {len(listed - never)} of {partitions} partitions scanned; "
        f"{partitions - len(listed) - removed} pruned at planning, {removed} at executor start "
        f"(`Subplans Removed`), {len(never)} in the plan but never executed. Scan nodes: "
        + ", ".join(f"{name} ×{count}" for name, count in scans.most_common())
        + "."
    )


def _section(title: str, query: str, median_ms: float, plan: str, partitions: int) -> str:
    return (
        f"### {title}\n\n```sql\n{query.strip()}\n```\n\n"
        f"Median of {TIMING_RUNS} runs: **{median_ms:.2f} ms**. {_plan_summary(plan, partitions)}"
        f"\n\n```\n{plan}\n```\n"
    )


def _measure_queries(connection: Connection, now: datetime) -> list[str]:
    """Timing and EXPLAIN (ANALYZE) of the queries the assistant and reports run."""
    partitions = _partition_count(connection)
    month = month_start(now.date(), -6)
    lower, upper = month.isoformat(), month_start(month, 1).isoformat()
    patient = "5531" + "1234".zfill(9)
    queries = [
        (
            f"One month ({month:%Y-%m}), constant bounds",
            f"SELECT count(*), avg(latency_ms) FROM conversation_messages\n"
            f"WHERE created_at >= '{lower} 00:00+00' AND created_at < '{upper} 00:00+00'",
        ),
        (
            "Last month, bounds from now()",
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
        _section(
            title, query, _median_ms(connection, query), _explain(connection, query), partitions
        )
        for title, query in queries
    ]


@dataclass(frozen=True)
class Measurements:
    """Everything one run measured, for the report."""

    rows: int
    load_ms: float
    keys_after_load: int
    analyze_ms: float
    partitions: list[tuple[str, int]]
    size: str
    sections: list[str]
    delete_month: date
    delete_ms: float
    delete_rows: int
    keys_ms: float
    keys_rows: int
    retention: RetentionResult
    retention_ms: float
    server_version: str


def run(rows: int, keep: bool) -> Measurements:
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    url = _create_database(admin)
    engine = make_engine(url, statement_timeout=False)  # a 1M-row INSERT … SELECT
    try:
        now = datetime.now(timezone.utc)
        first_month = month_start(now.date(), -(MONTHS - 1))
        upgrade_to_head(url)
        ensure_partitions(engine, months_ahead=MONTHS - 1, today=first_month)
        load_ms = _load(engine, rows, first_month, now)
        with engine.connect() as connection:
            keys_after_load = connection.execute(
                text("SELECT count(*) FROM conversation_message_keys")
            ).scalar_one()
            analyze_ms = _timed(lambda: connection.execute(text("ANALYZE conversation_messages")))
            connection.commit()
            partitions = _rows_per_partition(connection)
            size = _size(connection)
            sections = _measure_queries(connection, now)
            server_version = connection.execute(text("SHOW server_version")).scalar_one()
        second = month_start(first_month, 1)
        delete_ms, delete_rows = _delete_month(engine, second)
        keys_ms, keys_rows = _delete_keys(engine, before=second)
        started = time.perf_counter()
        retention = drop_partitions_older_than(engine, months=RETENTION_MONTHS)
        retention_ms = (time.perf_counter() - started) * 1000
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as connection:
                name = make_url(url).database
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    return Measurements(
        rows=rows,
        load_ms=load_ms,
        keys_after_load=keys_after_load,
        analyze_ms=analyze_ms,
        partitions=partitions,
        size=size,
        sections=sections,
        delete_month=second,
        delete_ms=delete_ms,
        delete_rows=delete_rows,
        keys_ms=keys_ms,
        keys_rows=keys_rows,
        retention=retention,
        retention_ms=retention_ms,
        server_version=server_version,
    )


def _report(m: Measurements, stamp: Stamp, command: str, runtime_s: float) -> str:
    retention = f"`drop_partitions_older_than(months={RETENTION_MONTHS})`"
    counts = dict(m.partitions)
    dropped = m.retention.dropped_partitions
    dropped_rows = sum(counts.get(name, 0) for name in dropped)
    dropped_names = ", ".join(f"`{name}`" for name in dropped) or "no partition"
    partition_lines = "\n".join(f"| {name} | {count:,} |" for name, count in m.partitions)
    header = "\n".join(
        header_lines(
            stamp,
            command,
            packages=("sqlalchemy", "psycopg2-binary"),
            extra=[
                f"- PostgreSQL {m.server_version} at `{make_url(ADMIN_URL).host}`",
                f"- Run time: {runtime_s:.0f} s in all",
            ],
        )
    )
    if m.delete_ms >= m.retention_ms:
        comparison = (
            f"Deleting one month row by row took {m.delete_ms / m.retention_ms:.1f}× as long as "
            f"the whole of {retention}."
        )
    else:
        comparison = (
            f"The whole of {retention} took {m.retention_ms / m.delete_ms:.1f}× as long as "
            "deleting one month row by row."
        )
    return f"""# conversation_messages partitioning benchmark

{header}

## Setup

- {m.rows:,} messages over {MONTHS} months (oldest month to now), {PATIENTS:,} patients,
  half inbound and half outbound, every row with an external message id.
- Inserted with one `INSERT … SELECT generate_series` through the partitioned parent, so the
  table's triggers ran: {m.keys_after_load:,} rows in `conversation_message_keys` afterwards.
- Total size of the partitions (heap + indexes): {m.size}.

| Step | Time |
| --- | --- |
| Insert {m.rows:,} rows | {m.load_ms / 1000:.1f} s |
| ANALYZE conversation_messages | {m.analyze_ms / 1000:.1f} s |
| DELETE the month {m.delete_month:%Y-%m} ({m.delete_rows:,} rows, rolled back) | \
{m.delete_ms:,.0f} ms |
| Retention, part 1: DELETE the {m.keys_rows:,} dedupe keys from before \
{m.delete_month:%Y-%m-%d} | {m.keys_ms:,.0f} ms |
| Retention, part 2: {retention}, which dropped {dropped_names} ({dropped_rows:,} rows) and \
deleted {m.retention.deleted_rows:,} rows from the default partition | {m.retention_ms:,.0f} ms |

{comparison}

<details><summary>Rows per partition</summary>

| Partition | Rows |
| --- | --- |
{partition_lines}

</details>

## Query plans

{chr(10).join(m.sections)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    stamp = Stamp.capture()
    began = time.monotonic()
    measurements = run(args.rows, args.keep)
    report = _report(
        measurements,
        stamp,
        command_line("bench.db_partitions", sys.argv[1:]),
        time.monotonic() - began,
    )
    REPORT.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
