"""The one clock: system time in production, a shared movable clock file elsewhere."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clinicbot import clock
from clinicbot.gestaods.cache import TTLCache
from clinicbot.settings import read_settings

TZ = ZoneInfo("America/Sao_Paulo")
TUESDAY_EVENING = datetime(2026, 12, 8, 17, 59, 50, tzinfo=TZ)


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clock"
    monkeypatch.setenv("CLOCK_FILE", str(path))
    monkeypatch.delenv("APP_ENV", raising=False)
    return path


def test_without_a_clock_file_it_is_the_system_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)


def test_the_clock_file_pins_now_and_time_runs_on(clock_file: Path) -> None:
    clock.set_clock_file(clock_file, TUESDAY_EVENING)
    first = clock.now()
    assert timedelta(0) <= first - TUESDAY_EVENING < timedelta(seconds=1)
    assert clock.now() >= first
    assert read_settings().clinic_today() == TUESDAY_EVENING.date()


def test_rewriting_the_file_moves_the_clock(clock_file: Path) -> None:
    clock.set_clock_file(clock_file, TUESDAY_EVENING)
    clock.set_clock_file(clock_file, TUESDAY_EVENING - timedelta(days=30))
    assert clock.now().astimezone(TZ).date() == datetime(2026, 11, 8).date()


def test_production_ignores_the_clock_file(
    clock_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_clock_file(clock_file, TUESDAY_EVENING)
    monkeypatch.setenv("APP_ENV", "production")
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)


def test_clock_start_without_offset_is_clinic_wall_time() -> None:
    assert clock.parse_start("2026-12-08T17:59:50", TZ) == TUESDAY_EVENING
    assert clock.parse_start("2026-12-08T20:59:50+00:00", TZ) == TUESDAY_EVENING


def test_cache_entries_expire_when_the_clock_moves_either_way() -> None:
    now = [1000.0]
    cache = TTLCache(ttl=30, clock=lambda: now[0])
    cache.set("days", (1, 2))
    now[0] += 29
    assert cache.get("days") == (1, 2)
    now[0] += 2
    assert cache.get("days") is None
    cache.set("days", (3,))
    now[0] -= 3600  # moved back: what was cached "later" is not valid now
    assert cache.get("days") is None
