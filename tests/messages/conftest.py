"""Template, A/B test and satisfaction tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    engine,
    second_engine,
)
