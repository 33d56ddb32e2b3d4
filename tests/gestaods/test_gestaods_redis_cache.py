"""The availability cache shared through the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import redis

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import InvalidToken
from clinicbot.gestaods.redis_cache import NAMESPACE, RedisTTLCache
from clinicbot.sandbox.gestaods_fake import FailureRule
from clinicbot.settings import read_settings
from tests.gestaods.conftest import MARINA, TOKEN, TZ, LiveGestaoDS
from tests.support.services import require_redis

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = require_redis(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def namespace(redis_client: redis.Redis) -> Iterator[str]:
    name = f"test:{uuid.uuid4().hex}"
    yield name
    for key in redis_client.scan_iter(f"{name}:*"):
        redis_client.delete(key)


def test_values_round_trip_between_two_processes_caches(redis_client, namespace):
    writer = RedisTTLCache(redis_client, ttl=30, namespace=namespace)
    reader = RedisTTLCache(redis.Redis.from_url(REDIS_URL), ttl=30, namespace=namespace)
    days = (date(2026, 12, 1), date(2026, 12, 2))
    times = (datetime(2026, 12, 1, 8, 0, tzinfo=TZ), datetime(2026, 12, 1, 8, 30, tzinfo=TZ))
    writer.set(("days", None), days)
    writer.set(("times", date(2026, 12, 1)), times)
    assert reader.get(("days", None)) == days
    assert reader.get(("times", date(2026, 12, 1))) == times
    assert reader.get(("times", date(2026, 12, 2))) is None


def test_clear_in_one_process_invalidates_every_process(redis_client, namespace):
    one = RedisTTLCache(redis_client, ttl=30, namespace=namespace)
    other = RedisTTLCache(redis.Redis.from_url(REDIS_URL), ttl=30, namespace=namespace)
    one.set(("days", None), (date(2026, 12, 1),))
    other.clear()
    assert one.get(("days", None)) is None


def test_entries_expire(redis_client, namespace):
    cache = RedisTTLCache(redis_client, ttl=0.05, namespace=namespace)
    cache.set(("days", None), (date(2026, 12, 1),))
    pttl = redis_client.pttl(f"{namespace}:0:days:None")
    assert 0 < pttl <= 50


def test_unreachable_redis_degrades_to_no_cache():
    cache = RedisTTLCache.from_url("redis://127.0.0.1:1/0", ttl=30)
    cache.set(("days", None), (date(2026, 12, 1),))
    cache.clear()
    assert cache.get(("days", None)) is None


def test_a_booking_by_one_client_hides_the_slot_from_another(
    live: LiveGestaoDS, redis_client, namespace
):
    first = live.client(cache=RedisTTLCache(redis_client, ttl=30, namespace=namespace))
    second = live.client(
        cache=RedisTTLCache(redis.Redis.from_url(REDIS_URL), ttl=30, namespace=namespace)
    )
    day = first.available_days()[0]
    slot = first.available_times(day)[0]
    assert slot in second.available_times(day)  # served from the shared cache

    second.book(cpf=MARINA, starts_at=slot)

    assert slot not in first.available_times(day)


def test_two_clinics_agendas_never_share_cached_times(live: LiveGestaoDS, redis_client):
    """Clinics on one Redis: another GestãoDS account's client asks its own agenda (which
    here refuses its token) instead of reading the first clinic's cached free days."""
    settings = dataclasses.replace(
        read_settings(), redis_url=REDIS_URL, gestaods_base_url=live.url, gestaods_env="prod"
    )
    first = GestaoDSClient.from_settings(dataclasses.replace(settings, gestaods_token=TOKEN))
    other = GestaoDSClient.from_settings(dataclasses.replace(settings, gestaods_token="outra"))
    try:
        assert first.available_days()
        with pytest.raises(InvalidToken):
            other.available_days()
        again = GestaoDSClient.from_settings(dataclasses.replace(settings, gestaods_token=TOKEN))
        live.fake.add_failure(FailureRule("500", count=0))  # the agenda is down: cache only
        assert again.available_days() == first.available_days()  # the clinic's own: shared
    finally:
        live.fake.clear_failures()
        for key in redis_client.scan_iter(f"{NAMESPACE}:*"):
            redis_client.delete(key)
