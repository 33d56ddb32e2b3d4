"""The fake's agenda rules, seed and standalone entry point (state checked in-process)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta

import requests

from clinicbot.sandbox.gestaods_fake import FakeGestaoDS

from .conftest import JOAO, MARINA, TODAY, TOKEN, TZ


def test_past_times_of_today_are_not_offered() -> None:
    now = datetime(2030, 3, 4, 10, 10, tzinfo=TZ)
    fake = FakeGestaoDS(TOKEN, TZ, today=TODAY, clock=lambda: now)
    free = fake.free_times(TODAY)
    assert free[0] == datetime(2030, 3, 4, 10, 30, tzinfo=TZ)
    assert not fake.is_free(datetime(2030, 3, 4, 9, 0, tzinfo=TZ))


def test_seed_is_deterministic_and_plausible() -> None:
    first, second = FakeGestaoDS(TOKEN, TZ, today=TODAY), FakeGestaoDS(TOKEN, TZ, today=TODAY)
    assert first.snapshot() == second.snapshot()
    assert first.appointments_of(MARINA) == []
    [joao] = first.appointments_of(JOAO)
    assert joao.starts_at == datetime(2030, 3, 7, 10, 0, tzinfo=TZ)
    horizon = [TODAY + timedelta(days=offset) for offset in range(35)]
    slots = sum(len(first.slot_starts(day)) for day in horizon)
    assert slots == 25 * 16  # five weeks of weekdays, 8 + 8 half-hour slots a day
    assert 0.1 < len(first.appointments) / slots < 0.4


def test_unseeded_fake_is_empty() -> None:
    fake = FakeGestaoDS(TOKEN, TZ, today=TODAY, seed=False)
    assert fake.patients == {} and fake.appointments == {}


def test_standalone_main_serves_the_api() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "clinicbot.sandbox.gestaods_fake", "--port", str(port),
               "--token", TOKEN, "--today", TODAY.isoformat()]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/paciente/{TOKEN}/{MARINA}/"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "fake did not start"
                time.sleep(0.2)
        assert response.json()["data"]["nome_completo"] == "Marina Alves Prado"
    finally:
        process.terminate()
        process.wait(10)
