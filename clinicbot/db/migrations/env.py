"""Alembic environment: runs on the connection :mod:`clinicbot.db.migrate` hands over.

There is no ``alembic.ini``: ``clinicbot.db.migrate`` builds the configuration in code, takes the
migration lock and passes an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from alembic.runtime.environment import NameFilterParentNames, NameFilterType

from clinicbot.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with clinicbot.db.migrate (python -m clinicbot.db.migrate)")


def include_name(name: str | None, type_: NameFilterType, _parents: NameFilterParentNames) -> bool:
    """Only our tables: Rasa's ``events`` and the monthly partitions are not ours to diff."""
    return type_ != "table" or name in Base.metadata.tables


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=include_name,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
