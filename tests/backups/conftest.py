"""Backups run on SQLite and PostgreSQL, in throwaway databases (as in ``tests/db``)."""

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
