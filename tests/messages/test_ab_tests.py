"""A/B tests with simulated traffic whose true conversion rates are known.

Patients are rendered the template through the real path (assignment recorded), the outbox
delivers some of the messages, and a seeded random draw decides who books afterwards.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ABTest, Appointment, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.messages import ab_tests, store
from clinicbot.messages.ab_tests import ABTestError, RunningTest
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.messages.rendering import render
from clinicbot.whatsapp.outbox import enqueue_text

KEY = "notification.confirmation"
VARIANT_B = "Oi, {nome}! ✅ Consulta marcada: {dia}, às {hora}. Qualquer coisa, é só chamar!"
VALUES = {"nome": "Ana", "dia": "sexta-feira, 04/12", "hora": "10:00"}


def phone(number: int) -> str:
    return f"5531{number:09d}"


def running_test(session: Session, weights: dict[str, float], min_sample: int = 100) -> ABTest:
    store.seed(session)
    store.save(session, KEY, store.Edit(VARIANT_B), edited_by="test", variant="b")
    test = ab_tests.create_test(
        session,
        name=f"confirmation-{len(weights)}",
        template_key=KEY,
        variants=weights,
        metric="booking",
        min_sample=min_sample,
    )
    ab_tests.start_test(session, test)
    return test


def simulate(
    engine: Engine,
    patients: int,
    true_rates: dict[str, float],
    *,
    delivered: float = 1.0,
    seed: int = 7,
) -> None:
    """Each patient is rendered the message; a share is delivered; converters book."""
    draw = random.Random(seed)
    with session_scope(engine) as session:
        for number in range(patients):
            rendered = render(session, KEY, VALUES, phone=phone(number))
            outbox_id = enqueue_text(session, phone(number), rendered.text)
            row = session.get(OutboxMessage, outbox_id)
            if draw.random() < delivered:
                row.status = "delivered"
                row.sent_at = utcnow()
            if draw.random() < true_rates[rendered.variant]:
                session.add(
                    Appointment(
                        gestaods_id=f"sim-{number}",
                        phone=phone(number),
                        cpf="39053344705",
                        starts_at=utcnow() + timedelta(days=3),
                        ends_at=utcnow() + timedelta(days=3, minutes=30),
                    )
                )


def test_assignment_is_deterministic_and_follows_the_weights() -> None:
    test = RunningTest(1, KEY, {"default": 7.0, "b": 3.0})
    seen = Counter(ab_tests.variant_for(test, phone(number)) for number in range(5000))
    assert abs(seen["default"] / 5000 - 0.7) < 0.03
    assert all(
        ab_tests.variant_for(test, phone(number)) == ab_tests.variant_for(test, phone(number))
        for number in range(100)
    )
    other = RunningTest(2, KEY, {"default": 7.0, "b": 3.0})
    assert [ab_tests.variant_for(other, phone(n)) for n in range(50)] != [
        ab_tests.variant_for(test, phone(n)) for n in range(50)
    ]


def test_a_better_variant_is_called_the_winner_and_kept_when_stopped(engine: Engine) -> None:
    with session_scope(engine) as session:
        test_id = running_test(session, {"default": 1, "b": 1}).id
    simulate(engine, 600, {"default": 0.10, "b": 0.25})
    with session_scope(engine) as session:
        test = session.get(ABTest, test_id)
        result = ab_tests.report(session, test)
        by_name = {variant.variant: variant for variant in result.variants}
        assert result.enough_data and result.winner == "b", result
        assert by_name["b"].p_value is not None and by_name["b"].p_value < 0.001
        for name, true_rate in {"default": 0.10, "b": 0.25}.items():
            assert by_name[name].ci_low <= true_rate <= by_name[name].ci_high
            assert by_name[name].exposed == by_name[name].assigned
        ab_tests.stop_test(session, test, keep="b", edited_by="test")
    TEMPLATE_CACHE.clear()  # as the staff API does once the stop is committed
    with session_scope(engine) as session:
        after = render(session, KEY, VALUES, phone=phone(1))
        assert after.text.startswith("Oi, Ana! ✅ Consulta marcada") and after.variant == "default"


def test_equal_rates_call_no_winner(engine: Engine) -> None:
    with session_scope(engine) as session:
        test_id = running_test(session, {"default": 1, "b": 1}).id
    simulate(engine, 500, {"default": 0.15, "b": 0.15})
    with session_scope(engine) as session:
        result = ab_tests.report(session, session.get(ABTest, test_id))
    assert result.enough_data and result.winner is None
    assert result.verdict == "no significant difference"


def test_no_winner_before_the_minimum_sample_and_only_delivered_messages_count(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        test_id = running_test(session, {"default": 1, "b": 1}, min_sample=200).id
    simulate(engine, 400, {"default": 0.05, "b": 0.60}, delivered=0.5)
    with session_scope(engine) as session:
        result = ab_tests.report(session, session.get(ABTest, test_id))
    exposed = sum(variant.exposed for variant in result.variants)
    assigned = sum(variant.assigned for variant in result.variants)
    assert assigned == 400 and 160 < exposed < 240
    assert not result.enough_data and result.winner is None
    assert result.verdict.startswith("not enough data")


def test_a_test_needs_two_saved_variants_and_one_running_per_key(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.seed(session)
        with pytest.raises(ABTestError, match="two variants"):
            ab_tests.create_test(
                session, name="x", template_key=KEY, variants={"default": 1}, metric="booking"
            )
        with pytest.raises(ABTestError, match="no active text"):
            ab_tests.create_test(
                session,
                name="x",
                template_key=KEY,
                variants={"default": 1, "c": 1},
                metric="booking",
            )
        running_test(session, {"default": 1, "b": 1})
        second = ab_tests.create_test(
            session,
            name="again",
            template_key=KEY,
            variants={"default": 1, "b": 2},
            metric="booking",
        )
        with pytest.raises(ABTestError, match="is running"):
            ab_tests.start_test(session, second)
        assert session.execute(select(ABTest.status).where(ABTest.key == "again")).scalar() == (
            "draft"
        )


def test_the_cache_sees_a_test_start_in_another_process(
    engine: Engine, second_engine: Engine
) -> None:
    with session_scope(second_engine) as session:
        store.seed(session)
        assert render(session, KEY, VALUES, phone=phone(3)).variant == "default"
    with session_scope(engine) as session:
        running_test(session, {"b": 1, "default": 0.000001})
    TEMPLATE_CACHE.ttl, ttl = 0.0, TEMPLATE_CACHE.ttl
    try:
        with session_scope(second_engine) as session:
            assert render(session, KEY, VALUES, phone=phone(3)).variant == "b"
    finally:
        TEMPLATE_CACHE.ttl = ttl
