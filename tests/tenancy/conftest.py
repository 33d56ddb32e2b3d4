"""Fixtures of the many-clinics tests: throwaway databases on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from clinicbot.settings import Settings, read_settings
from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    empty_url,
    engine,
)


@pytest.fixture
def settings() -> Settings:
    """Sandbox settings (the default clinic is the environment's) with a test secrets key."""
    return dataclasses.replace(
        read_settings(), clinic_secrets_keys="6Kw0rTbl5S0vQ3pJ2n0mJ3KJ9qjv1a0g2F6uYc8fZ2s="
    )
