"""Fixtures of the CRM events tests: the shared databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    engine,
)
