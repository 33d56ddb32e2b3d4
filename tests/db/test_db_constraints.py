"""Constraints: CHECKs on statuses, uniqueness, message dedupe, one offer per slot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, ConversationMessageKey

from . import factories

ALLOWED_VALUES: list[tuple[Callable[..., Any], str, tuple[str, ...]]] = [
    (factories.appointment, "status", models.APPOINTMENT_STATUSES),
    (factories.conversation, "status", models.CONVERSATION_STATUSES),
    (factories.message, "direction", models.MESSAGE_DIRECTIONS),
    (factories.message, "status", models.MESSAGE_STATUSES),
    (factories.waiting, "status", models.WAITING_LIST_STATUSES),
    (factories.waiting, "preferred_period", models.WAITING_LIST_PERIODS),
    (factories.dashboard, "status", models.DASHBOARD_STATUSES),
    (factories.transaction, "stage_current", models.FUNNEL_STAGES),
    (factories.notification, "kind", models.NOTIFICATION_KINDS),
    (factories.notification, "status", models.NOTIFICATION_STATUSES),
    (factories.ab_test, "status", models.AB_TEST_STATUSES),
]
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


@pytest.mark.parametrize(
    ("factory", "column", "values"),
    ALLOWED_VALUES,
    ids=[f"{factory.__name__}.{column}" for factory, column, _ in ALLOWED_VALUES],
)
def test_every_value_the_models_name_is_allowed_by_the_schema(
    engine: Engine, factory: Callable[..., Any], column: str, values: tuple[str, ...]
) -> None:
    with session_scope(engine) as session:
        session.add_all(factory(**{column: value}) for value in values)


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
