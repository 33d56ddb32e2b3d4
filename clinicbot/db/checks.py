"""Migrations' edits of a CHECK constraint, on PostgreSQL and SQLite alike.

SQLite cannot alter a CHECK constraint; widening one (every stored row still satisfies it) is
the case SQLite documents for editing the schema text directly ("Making Other Kinds Of Table
Schema Changes", https://www.sqlite.org/lang_altertable.html#otheralter), which keeps the
table, its triggers and its indexes as they are. PostgreSQL drops and re-adds it (on a
partitioned table the partitions follow).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The condition ``column IN ('a', 'b', …)``, spelled as the models spell it."""
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def replace_check(bind: Connection, table: str, name: str, old: str, new: str) -> None:
    """Make the CHECK constraint ``name`` of ``table`` read ``new`` instead of ``old``.

    On SQLite only a change that every stored row satisfies (a widening) is safe: narrow a
    constraint by first updating the rows it would refuse.
    """
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        bind.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({new})")
        return
    edit_sqlite_schema(bind, table, old, new, what=f"CHECK constraint {name}")


def edit_sqlite_schema(bind: Connection, table: str, old: str, new: str, *, what: str) -> None:
    """Replace ``old`` by ``new`` in ``table``'s CREATE TABLE text on SQLite (see the module
    docstring); ``what`` names the edited part in the error raised when it is not found."""
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    changed = bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
            "WHERE type = 'table' AND name = :table AND instr(sql, :old) > 0"
        ),
        {"old": old, "new": new, "table": table},
    ).rowcount
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if changed != 1:
        raise RuntimeError(f"{table}: {what} not found")
