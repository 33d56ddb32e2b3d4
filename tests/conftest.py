"""Suite-wide setup: one clock for the test process and every process it starts.

``CLOCK_START=2026-12-08T17:59:50 make test`` runs the whole suite as if it were that moment
(clinic wall time unless the value has an offset): this process and the stacks the end-to-end
tests start all read the same clock file (:mod:`clinicbot.clock`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from clinicbot.clock import parse_start, set_clock_file
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.settings import read_settings


def pytest_configure(config: pytest.Config) -> None:
    start = os.environ.get("CLOCK_START", "").strip()
    if not start or os.environ.get("CLOCK_FILE"):
        return
    path = Path(tempfile.mkdtemp(prefix="clinicbot-clock-")) / "clock"
    set_clock_file(path, parse_start(start, read_settings().clinic_tz))
    os.environ["CLOCK_FILE"] = str(path)


def pytest_report_header(config: pytest.Config) -> str | None:
    start = os.environ.get("CLOCK_START", "").strip()
    return f"clock pinned: CLOCK_START={start}" if start else None


@pytest.fixture(autouse=True)
def _fresh_template_cache() -> None:
    """Tests empty and refill their databases faster than the cache's TTL: start each afresh."""
    TEMPLATE_CACHE.clear()
