"""Erasing a patient leaves nothing about them in any table of the schema that holds patient data.

The tables are found from the schema itself, not from the erasure's own list: the models'
``MetaData`` together with reflection of the migrated database, with Rasa's tracker tables
created the way the rasa server creates them. So a table made only by a migration, a trigger or
Rasa (``events``) counts as much as a model, and a new table with a phone column, or a table
dropped from the erasure, fails this test until the erasure covers it.

The rule (printed by ``test_the_rule_finds_the_patient_tables``):

- a column holds a patient's phone, CPF or name when one of the ``_``-separated words of its name
  is in ``PHONE_WORDS``, ``CPF_WORDS`` or ``NAME_WORDS``, or the whole name is in
  ``CONVERSATION_IDS`` (the id Rasa or a channel keeps a conversation under is the phone);
- a table with such a column holds patient data, unless ``NOT_PATIENT_DATA`` says why it does not;
- a PostgreSQL partition is seeded and searched through its partitioned table.

The words over-match on purpose (Rasa's ``intent_name`` counts as a name): a false alarm costs an
entry in ``NOT_PATIENT_DATA``, a miss would cost a patient's data.

Every such table gets one row about the erased patient and one about another patient: the phone,
CPF and name in the matching columns, a sentence quoting all three in every free-text and JSON
column (as a patient's message would), and generic values elsewhere (the first value a CHECK
``IN`` list allows, a parent row for a required foreign key). After the erasure no row of these
tables may mention the erased patient's phone, CPF or name, and the other patient's rows stay.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Base, IdentityCheck
from clinicbot.rasa.stores import DatabaseUrlTrackerStore
from clinicbot.services import erasure
from clinicbot.settings import get_settings

PHONE_WORDS = frozenset({"phone", "telefone", "celular", "whatsapp", "msisdn"})
CPF_WORDS = frozenset({"cpf"})
NAME_WORDS = frozenset({"name", "nome", "patient", "paciente"})
CONVERSATION_IDS = frozenset({"sender_id", "chat_id"})

# Tables the rule flags that deliberately keep no patient data, with the reason.
NOT_PATIENT_DATA = {
    "api_call_logs": (
        "operations log of external API calls (clinicbot/services/api_log.py): cpf_masked is "
        "mask_cpf()'s ***.***.*47-05, not enough to identify anyone, and the path and error are "
        "masked before they are written (clinicbot/gestaods/transport.py)"
    ),
    "clinics": (
        "the clinics this deployment serves (clinicbot/tenancy/registry.py): name and "
        "meta_phone_number_id are the clinic's, not a patient's"
    ),
}


@dataclass(frozen=True)
class Patient:
    phone: str
    cpf: str
    name: str

    @property
    def identifiers(self) -> tuple[str, str, str]:
        return (self.phone, self.cpf, self.name)

    @property
    def sentence(self) -> str:
        """Free text about the patient, as a message or a payload would carry it."""
        return f"Sou {self.name}, CPF {self.cpf}, WhatsApp {self.phone}"


ERASED = Patient("5531988887777", "39053344705", "Marina Apagada Rocha")
KEPT = Patient("5531977776666", "52998224725", "Joana Mantida Prado")
MOMENT = datetime(2031, 3, 10, 15, 0, tzinfo=timezone.utc)


def personal_kind(column: str) -> str | None:
    """``phone``, ``cpf`` or ``name`` when the column's name says it holds one, else None."""
    name = column.lower()
    if name in CONVERSATION_IDS:
        return "phone"
    words = set(name.split("_"))
    if words & CPF_WORDS:
        return "cpf"
    if words & PHONE_WORDS:
        return "phone"
    if words & NAME_WORDS:
        return "name"
    return None


def is_personal(table: Table) -> bool:
    return any(personal_kind(column.name) for column in table.columns)


def reflect(connection: Connection) -> dict[str, Table]:
    """The database's tables, PostgreSQL partitions left to their partitioned table."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    partitions: set[str] = set()
    if connection.dialect.name == "postgresql":
        partitions = set(
            connection.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars()
        )
    return {name: table for name, table in metadata.tables.items() if name not in partitions}


def flagged_tables(connection: Connection) -> tuple[set[str], dict[str, Table]]:
    """Names of the tables the rule flags, and the database's tables by name."""
    tables = reflect(connection)
    from_models = {name for name, table in Base.metadata.tables.items() if is_personal(table)}
    from_database = {name for name, table in tables.items() if is_personal(table)}
    return from_models | from_database, tables


def patient_tables(connection: Connection) -> dict[str, Table]:
    """The reflected tables holding patient data, by name."""
    flagged, tables = flagged_tables(connection)
    missing = flagged - tables.keys()
    assert not missing, f"tables of the models missing from the migrated database: {missing}"
    stale = NOT_PATIENT_DATA.keys() - flagged
    assert not stale, f"NOT_PATIENT_DATA lists tables the rule no longer flags: {stale}"
    return {name: tables[name] for name in sorted(flagged - NOT_PATIENT_DATA.keys())}


def _row_id(table: Table, column: Column) -> bool:
    """Whether the database numbers the column itself: a table's only, integer, primary key."""
    return list(table.primary_key.columns) == [column] and column.type.python_type is int


class Seeder:
    """Writes a valid row into any reflected table, about a patient when the table holds them."""

    def __init__(self, connection: Connection, tables: dict[str, Table]) -> None:
        self._connection = connection
        self._tables = tables
        self._inspector = inspect(connection)
        self._counter = 0

    def add(self, table: Table, patient: Patient | None) -> dict[str, Any]:
        """Insert a row (``patient`` is None for a table without patient data); return it."""
        values = {}
        for column in table.columns:
            value = self._value(table, column, patient)
            if value is not None:
                values[column.name] = value
        result = self._connection.execute(table.insert().values(**values))
        keys = [column.name for column in table.primary_key.columns]
        return {**values, **dict(zip(keys, result.inserted_primary_key, strict=True))}

    def _value(self, table: Table, column: Column, patient: Patient | None) -> Any:
        """The column's value, or None to leave it to its default (or NULL)."""
        kind = personal_kind(column.name)
        sentence = patient.sentence if patient else "texto qualquer"
        if isinstance(column.type, JSON):
            return {"note": sentence}
        python_type = column.type.python_type
        if patient and kind and python_type is str:
            return {"phone": patient.phone, "cpf": patient.cpf, "name": patient.name}[kind]
        if isinstance(column.type, Text) or (python_type is str and column.type.length is None):
            return sentence
        if column.nullable or column.server_default is not None or _row_id(table, column):
            return None
        if column.foreign_keys:
            (foreign_key,) = column.foreign_keys
            parent = self._tables[foreign_key.column.table.name]
            return self.add(parent, patient if is_personal(parent) else None)[
                foreign_key.column.name
            ]
        return self._generic(table, column, python_type)

    def _generic(self, table: Table, column: Column, python_type: type) -> Any:
        self._counter += 1
        if python_type is str:
            allowed = self._allowed_values(table.name, column.name)
            if allowed:
                return allowed[0]
            return f"{uuid.uuid4().hex[:8]}-{column.name}"[: column.type.length]
        generic: dict[type, Any] = {
            int: self._counter,
            float: 1.0,
            bool: False,
            date: MOMENT.date(),
            datetime: MOMENT,
        }
        assert python_type in generic, f"no generic value for {table.name}.{column.name}"
        return generic[python_type]

    def _allowed_values(self, table: str, column: str) -> list[str]:
        """The literals of a CHECK constraint on ``column`` (``IN`` on SQLite, ``ANY`` on PG)."""
        for check in self._inspector.get_check_constraints(table):
            if re.search(rf"\b{column}\b", check["sqltext"]):
                literals = re.findall(r"'([^']*)'", check["sqltext"])
                if literals:
                    return literals
        return []


def rows_mentioning(connection: Connection, table: Table, patient: Patient) -> list[dict]:
    """The table's rows in which any column contains the patient's phone, CPF or name."""
    found = []
    for row in connection.execute(select(table)).mappings():
        rendered = " ".join(
            json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
            for value in row.values()
        )
        if any(identifier in rendered for identifier in patient.identifiers):
            found.append(dict(row))
    return found


def leftovers_after_erasure(engine: Engine) -> dict[str, list[dict]]:
    """Seed both patients everywhere, erase one, and return what still mentions them, by table.

    Also checks that the seeding is seen by the search, and that the other patient is untouched.
    """
    with engine.begin() as connection:
        tables = patient_tables(connection)
        seeder = Seeder(connection, reflect(connection))
        for table in tables.values():
            seeder.add(table, ERASED)
            seeder.add(table, KEPT)
    with engine.connect() as connection:
        unseen = [
            name for name, table in tables.items() if not rows_mentioning(connection, table, ERASED)
        ]
    assert not unseen, f"the seeded rows are not found by the search in {unseen}"

    with session_scope(engine) as session:
        erasure.erase_patient(session, ERASED.phone)

    with engine.connect() as connection:
        lost = [
            name for name, table in tables.items() if not rows_mentioning(connection, table, KEPT)
        ]
        assert not lost, f"the erasure deleted another patient's rows in {lost}"
        leftovers = {
            name: rows_mentioning(connection, table, ERASED) for name, table in tables.items()
        }
    return {name: rows for name, rows in leftovers.items() if rows}


@pytest.fixture
def schema(fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated database that also has Rasa's tracker tables, as the rasa server makes them."""
    monkeypatch.setenv("DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    DatabaseUrlTrackerStore().engine.dispose()
    yield fresh_engine
    get_settings.cache_clear()


def test_the_rule_finds_the_patient_tables(schema: Engine) -> None:
    with schema.connect() as connection:
        tables = patient_tables(connection)
    print(__doc__)
    print(f"phone: {sorted(PHONE_WORDS)} or the whole name in {sorted(CONVERSATION_IDS)}")
    print(f"cpf: {sorted(CPF_WORDS)}; name: {sorted(NAME_WORDS)}")
    for name, reason in NOT_PATIENT_DATA.items():
        print(f"not patient data: {name}: {reason}")
    for name, table in tables.items():
        columns = {c.name: personal_kind(c.name) for c in table.columns if personal_kind(c.name)}
        print(f"patient data: {name}: {columns}")
    # The rule must at least see what is known to be patient data, or it proves nothing.
    assert {"appointments", "conversation_messages", "events", "waiting_list"} <= tables.keys()


def test_erasure_leaves_nothing_about_the_patient_in_any_patient_table(schema: Engine) -> None:
    leftovers = leftovers_after_erasure(schema)
    assert not leftovers, f"erase_patient() left the patient in {sorted(leftovers)}: {leftovers}"


def test_a_table_left_out_of_the_erasure_is_caught(
    schema: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    forgetful = tuple(model for model in erasure.PHONE_TABLES if model is not IdentityCheck)
    monkeypatch.setattr(erasure, "PHONE_TABLES", forgetful)
    assert leftovers_after_erasure(schema).keys() == {"identity_checks"}


def test_a_new_table_with_a_phone_column_is_caught(schema: Engine) -> None:
    contacts = Table(
        "patient_contacts",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("telefone", String(64), nullable=False),
    )
    with schema.begin() as connection:
        contacts.create(connection)
    assert leftovers_after_erasure(schema).keys() == {"patient_contacts"}
