"""Channel tests run on SQLite and PostgreSQL, with the data layer's throwaway databases."""

from __future__ import annotations

from db.conftest import (  # noqa: F401  (fixtures; tests/ is on sys.path)
    _shared_engines,
    backend,
    databases,
    engine,
    fresh_engine,
)
