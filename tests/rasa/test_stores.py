"""Rasa's tracker and lock stores, configured from DATABASE_URL / REDIS_URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinicbot.rasa.stores import ConfiguredLockStore, DatabaseUrlTrackerStore
from clinicbot.settings import get_settings
from tests.support.databases import BACKENDS, Databases
from tests.support.services import require_postgres, require_redis


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    created = Databases(tmp_path_factory.mktemp("tracker-db"))
    yield created
    created.drop_all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tracker_store_keeps_conversations_in_the_configured_database(
    backend, databases, monkeypatch, fresh_settings
):
    if backend == "postgresql":
        require_postgres()
    monkeypatch.setenv("DATABASE_URL", databases.new_url(backend))
    domain = Domain.from_dict({"intents": ["saudacao"]})

    store = DatabaseUrlTrackerStore(domain=domain)
    tracker = DialogueStateTracker.from_events(
        "5531988887777", [UserUttered("oi", {"name": "saudacao", "confidence": 1.0})]
    )
    asyncio.run(store.save(tracker))

    again = asyncio.run(DatabaseUrlTrackerStore(domain=domain).retrieve("5531988887777"))
    assert again is not None and again.latest_message.text == "oi"
    assert store.engine.dialect.name == backend


def test_lock_store_is_in_memory_without_redis(monkeypatch, fresh_settings):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(ConfiguredLockStore(), InMemoryLockStore)


def test_lock_store_uses_redis_when_configured(monkeypatch, fresh_settings):
    url = "redis://127.0.0.1:6379/14"
    require_redis(url).close()
    monkeypatch.setenv("REDIS_URL", url)
    store = ConfiguredLockStore()
    assert isinstance(store, RedisLockStore)
    lock = store.issue_ticket("5531988887777")
    assert isinstance(lock, int)
    assert store.get_lock("5531988887777") is not None
    assert store.key_prefix == "clinicbot:lock:"


def test_lock_keys_take_the_configured_prefix(monkeypatch, fresh_settings):
    url = "redis://127.0.0.1:6379/14"
    require_redis(url).close()
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("REDIS_LOCK_PREFIX", "bench42")
    store = ConfiguredLockStore()
    assert isinstance(store, RedisLockStore) and store.key_prefix == "bench42:lock:"
