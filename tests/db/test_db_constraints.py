"""Constraints: CHECKs on statuses, uniqueness, message dedupe, one offer per slot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, ConversationMessageKey

from . import factories

BAD_VALUES: list[tuple[Callable[..., Any], str, Any]] = [
    (factories.appointment, "status", "maybe"),
    (factories.conversation, "status", "lost"),
    (factories.conversation, "satisfaction", 9),
    (factories.message, "direction", "up"),
    (factories.message, "status", "teleported"),
    (factories.waiting, "status", "sleeping"),
    (factories.waiting, "preferred_period", "midnight"),
    (factories.dashboard, "status", "pending"),
    (factories.transaction, "stage_current", "paid"),
    (factories.notification, "kind", "spam"),
    (factories.notification, "status", "lost"),
    (factories.ab_test, "status", "paused"),
    (factories.appointment, "cpf", "123"),
    (factories.appointment, "phone", None),
    (factories.notification, "scheduled_for", None),
]


@pytest.mark.parametrize(
    ("factory", "column", "value"),
    BAD_VALUES,
    ids=[f"{factory.__name__}.{column}={value}" for factory, column, value in BAD_VALUES],
)
def test_bad_values_are_rejected(
    engine: Engine, factory: Callable[..., Any], column: str, value: Any
) -> None:
    with session_scope(engine) as session:
        session.add(factory())  # the same row with valid values goes in
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factory(**{column: value}))


def test_unique_business_keys(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(factories.appointment(gestaods_id="G-1"))
        session.add(factories.notification(dedupe_key="reminder:1:24h"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factories.appointment(gestaods_id="G-1"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factories.notification(dedupe_key="reminder:1:24h"))


def test_redelivered_message_is_rejected_per_channel(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = factories.message(external_message_id="WAMID-1")
        session.add_all([first, factories.message(), factories.message()])  # NULL ids: no limit
        session.add(factories.message(external_message_id="WAMID-1", channel="sandbox"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factories.message(external_message_id="WAMID-1"))

    with session_scope(engine) as session:
        assert session.execute(select(ConversationMessage)).scalars().all().__len__() == 4
        key = session.get(ConversationMessageKey, ("whatsapp", "WAMID-1"))
    assert (key.message_id, key.created_at) == (first.id, first.created_at)


def test_a_slot_is_offered_to_one_patient_at_a_time(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(
            factories.waiting(status="offered", offered_slot_key="dr-ana|2031-03-14T13:00Z")
        )
        session.add(factories.waiting(status="left", offered_slot_key="dr-ana|2031-03-14T13:00Z"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            factories.waiting(status="offered", offered_slot_key="dr-ana|2031-03-14T13:00Z")
        )
