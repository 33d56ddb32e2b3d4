"""Channel tests run on SQLite and PostgreSQL, with the data layer's throwaway databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from clinicbot import clock
from clinicbot.clock import set_clock_file
from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    empty_url,
    engine,
    fresh_engine,
    second_engine,
)


@pytest.fixture
def jump_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """``jump_clock(delta)`` moves the project clock (this process's, and the processes it
    starts with this environment) ``delta`` ahead: hours of outage pass in no time."""
    path = tmp_path / "clock"
    set_clock_file(path, clock.now())
    monkeypatch.setenv("CLOCK_FILE", str(path))
    return lambda delta: set_clock_file(path, clock.now() + delta)
