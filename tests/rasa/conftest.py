"""The event broker's tests run on SQLite and PostgreSQL, with the data layer's throwaway
databases."""

from __future__ import annotations

from tests.db.conftest import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    engine,
    fresh_engine,
)
