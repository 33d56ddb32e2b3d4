"""The event broker's tests run on SQLite and PostgreSQL, with the data layer's throwaway
databases."""

from __future__ import annotations

from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    empty_url,
    engine,
    fresh_engine,
    second_engine,
)
