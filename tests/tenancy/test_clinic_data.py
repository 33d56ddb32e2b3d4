"""One clinic's data exported and erased, on SQLite and PostgreSQL: every clinic-owned table
(found from the schema, as the erasure-completeness test does) gets rows of two clinics; the
export holds exactly the one clinic's, the erasure removes exactly them; and raw SQL under
PostgreSQL's row-level security reaches none of the other clinic's rows in any of them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from clinicbot.db.engine import session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.models import ClinicRecord
from clinicbot.settings import PROJECT_ROOT, Settings
from clinicbot.tenancy.clinic_data import (
    DefaultClinicErasure,
    clinic_tables,
    erase_clinic,
    export_clinic,
)
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.scope import set_database_clinic
from tests.db.test_erasure_completeness import ERASED, KEPT, Patient, Seeder, is_personal, reflect
from tests.tenancy.test_scope import rls_connection

__all__ = ["rls_connection"]  # fixture

# Rasa's tracker table, as far as the clinic's data goes (its sender ids).
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


class ClinicSeeder(Seeder):
    """The erasure test's seeder, writing every row (and its parents) for one clinic."""

    def __init__(self, connection: Connection, tables: dict[str, Table], clinic_id: int) -> None:
        super().__init__(connection, tables)
        self.clinic_id = clinic_id

    def _value(self, table: Table, column: Column, patient: Patient | None) -> Any:
        if column.name == "clinic_id":
            return self.clinic_id
        return super()._value(table, column, patient)


def _seed(engine: Engine, clinic_id: int, patient: Patient) -> None:
    with engine.begin() as connection:
        tables = reflect(connection)
        seeder = ClinicSeeder(connection, tables, clinic_id)
        for table in clinic_tables():
            reflected = tables[table.name]
            seeder.add(reflected, patient if is_personal(reflected) else None)
        sender = patient.phone if clinic_id == 1 else f"c{clinic_id}:{patient.phone}"
        connection.execute(EVENTS.insert().values(sender_id=sender, data=patient.sentence))


def _counts(engine: Engine, clinic_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                select(func.count()).select_from(table).where(table.c.clinic_id == clinic_id)
            ).scalar_one()
            for table in clinic_tables()
        }


@pytest.fixture
def two_clinics(engine: Engine, settings: Settings) -> Iterator[int]:
    """Clinic 1 and another, each with a row in every clinic-owned table; the other's id."""
    with engine.begin() as connection:
        EVENTS.drop(connection, checkfirst=True)
        EVENTS.create(connection)
    with session_scope(engine) as session:
        other, _ = add_clinic(session, NewClinic(slug="sul", name="Sul"), settings)
    _seed(engine, 1, KEPT)
    _seed(engine, other, ERASED)
    yield other
    with engine.begin() as connection:
        EVENTS.drop(connection)


def test_the_export_holds_the_clinics_rows_and_no_other(engine: Engine, two_clinics: int) -> None:
    out = io.StringIO()
    counts = export_clinic(engine, two_clinics, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    header, rows = lines[0]["export"], lines[1:]
    assert header["clinic_id"] == two_clinics
    assert set(header["tables"]) == {table.name for table in clinic_tables()}
    expected = {name: count for name, count in _counts(engine, two_clinics).items() if count}
    assert {name: counts[name] for name in expected} == expected
    assert expected.keys() == set(header["tables"])  # every table had a row of the clinic
    assert all(
        line["row"]["clinic_id"] == two_clinics for line in rows if line["table"] != "events"
    )
    assert [line["row"]["sender_id"] for line in rows if line["table"] == "events"] == [
        f"c{two_clinics}:{ERASED.phone}"
    ]
    dump = out.getvalue()
    assert KEPT.phone not in dump and KEPT.cpf not in dump and KEPT.name not in dump
    assert not any("key_hash" in line["row"] or "secret" in line["row"] for line in rows)


def test_erasing_a_clinic_removes_its_rows_and_only_them(engine: Engine, two_clinics: int) -> None:
    kept = _counts(engine, 1)
    erased = erase_clinic(engine, two_clinics)
    assert erased["events"] == 1 and sum(erased.values()) >= len(clinic_tables())
    assert not any(_counts(engine, two_clinics).values())
    assert _counts(engine, 1) == kept
    with engine.connect() as connection:
        senders = connection.execute(text("SELECT sender_id FROM events")).scalars().all()
        assert senders == [KEPT.phone]
        assert connection.execute(select(ClinicRecord.id)).scalars().all() == [1]


def test_the_default_clinic_is_not_erased(engine: Engine) -> None:
    with pytest.raises(DefaultClinicErasure):
        erase_clinic(engine, 1)


def _cli(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinicbot.cli", "clinics", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def test_the_cli_exports_then_erases_a_clinic(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'clinics.db'}"
    upgrade_to_head(database)
    assert _cli(database, "add", "sul", "--name", "Sul").returncode == 0
    output = tmp_path / "sul.jsonl"
    exported = _cli(database, "export", "sul", "--output", str(output))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(output.read_text().splitlines()[0])["export"]["clinic_id"] == 2
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    again = _cli(database, "export", "sul", "--output", str(output))
    assert again.returncode == 1 and "exists" in again.stdout
    refused = _cli(database, "erase", "sul", "--confirm", "norte")
    assert refused.returncode == 1
    erased = _cli(database, "erase", "sul", "--confirm", "sul")
    assert erased.returncode == 0, erased.stderr
    assert "sul" not in _cli(database, "list").stdout
    assert _cli(database, "erase", "default", "--confirm", "default").returncode == 1


def test_raw_sql_under_row_level_security_reaches_no_other_clinic_in_any_table(
    rls_connection: Connection, two_clinics: int
) -> None:
    """As an ordinary role acting for clinic B, raw SQL on every clinic-owned table sees,
    changes and deletes none of clinic A's rows, and cannot move a row to clinic A."""
    connection = rls_connection
    for table in clinic_tables():
        with connection.begin():
            set_database_clinic(connection, two_clinics)
            seen = connection.execute(text(f"SELECT DISTINCT clinic_id FROM {table.name}"))
            assert seen.scalars().all() == [two_clinics], table.name
            for statement in (
                f"UPDATE {table.name} SET clinic_id = clinic_id WHERE clinic_id = 1",
                f"DELETE FROM {table.name} WHERE clinic_id = 1",
            ):
                assert connection.execute(text(statement)).rowcount == 0, statement
        with pytest.raises(DBAPIError, match="row-level security"), connection.begin():
            set_database_clinic(connection, two_clinics)
            connection.execute(text(f"UPDATE {table.name} SET clinic_id = 1"))
    with connection.begin():
        set_database_clinic(connection, 1)
        for table in clinic_tables():
            count = connection.execute(text(f"SELECT count(*) FROM {table.name}")).scalar()
            assert count and count >= 1, table.name  # clinic A's rows are all still there
