"""Cross-tenant service calls, on SQLite and PostgreSQL: every service function that takes a
clinic (found by introspection: a ``clinic_id`` parameter) is called while acting for clinic B
but told clinic A's id, as a handler with a bug would. Reads find nothing of clinic A's, writes
are refused (:class:`~clinicbot.tenancy.scope.CrossClinicWrite`) or change nothing of clinic
A's: its export is the same before and after. A new such function without a probe fails."""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

import clinicbot
from clinicbot.api import idempotency, keys
from clinicbot.api import services as api_services
from clinicbot.api import webhooks as api_webhooks
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, WebhookDelivery
from clinicbot.integrations import events, subscriptions
from clinicbot.integrations import webhooks as crm_webhooks
from clinicbot.messages import cache, nlg, rendering, satisfaction, store
from clinicbot.services import analytics, booking_attempts, daily_metrics, nlu_review
from clinicbot.services.alerts.evaluator import AlertEvaluator
from clinicbot.settings import Settings
from clinicbot.tenancy.clinic_data import export_clinic
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.scope import CrossClinicWrite
from clinicbot.tenancy.sessions import clinic_session
from tests.db import factories

A = 1
ALL_DAYS = (date(2000, 1, 1), date(2100, 1, 1))
KEY = "utter_saudacao"
A_TEXT = "Olá, aqui é a Clínica A!"
PHONE = "5531988887777"
# Where clinic-taking functions may live and are not services: the tenancy machinery itself,
# and helpers that build SQL or checks rather than touch data.
NOT_SERVICES = ("clinicbot.tenancy.", "clinicbot.web.")
HELPERS = {
    "clinicbot.services.analytics.clinic_scope",  # a WHERE clause
    "clinicbot.services.alerts.evaluator.AlertEvaluator.checks",  # the checks, not their run
}


def clinic_taking_functions() -> set[str]:
    """Every public function or method of ``clinicbot`` with a ``clinic_id`` parameter."""
    found = set()
    for module_info in pkgutil.walk_packages(clinicbot.__path__, "clinicbot."):
        name = module_info.name
        if name.startswith(NOT_SERVICES) or ".migrations" in name or name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            owners = [(attribute, value)]
            if inspect.isclass(value) and value.__module__ == name:
                owners = [(f"{attribute}.{m}", f) for m, f in vars(value).items()]
            for qualified, function in owners:
                if (
                    inspect.isfunction(function)
                    and function.__module__ == name
                    and not qualified.split(".")[-1].startswith("_")
                    and "clinic_id" in inspect.signature(function).parameters
                ):
                    found.add(f"{name}.{qualified}")
    return found - HELPERS


@pytest.fixture
def clinic_a(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Clinic A's data (an API key, a subscription with a delivery, an edited template, a
    conversation and an unsure message) and clinic B; their ids."""
    with session_scope(engine) as session:
        b, _ = add_clinic(session, NewClinic(slug="b", name="B"), settings)
    with clinic_session(A, engine) as session:
        key = keys.create_key(session, name="crm", scopes=["read"], clinic_id=A)
        subscription = subscriptions.create_subscription(
            session, url="https://crm-a.example/h", clinic_id=A
        )
        events.emit_event(session, "handoff.requested", {"phone": PHONE})
        store.seed(session)
        store.save(session, KEY, store.Edit(A_TEXT, None, True), edited_by="a")
        conversation = factories.conversation(phone=PHONE)
        session.add(conversation)
        session.flush()
        session.add(
            factories.message(
                conversation_id=conversation.id, intent="nlu_fallback", confidence=0.1
            )
        )
    with session_scope(engine) as session:
        delivery = session.execute(select(WebhookDelivery.delivery_id)).scalar_one()
    idempotency.begin(engine, key.id, A, "idem-1", "digest")
    return {"b": b, "key": key.id, "subscription": subscription["id"], "delivery": delivery}


def _export(engine: Engine) -> list[str]:
    out = io.StringIO()
    export_clinic(engine, A, out)
    return out.getvalue().splitlines()[1:]


def probes(engine: Engine, settings: Settings, a: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """Function → a call of it for clinic A, made while acting for clinic B; each returns what
    a tenant-safe answer is checked against (``None``: it must only leave clinic A unchanged)."""
    period = analytics.Period.parse("2031-03-10", "2031-03-10", settings.clinic_today())
    tz = settings.clinic_tz
    nlg_body = {"response": KEY, "arguments": {}, "tracker": {"sender_id": PHONE, "slots": {}}}
    return {
        "clinicbot.api.services.clinic_services": lambda s: api_services.clinic_services(
            SimpleNamespace(ctx=SimpleNamespace(settings=settings, db_engine=engine)), A
        ),
        "clinicbot.api.idempotency.begin": lambda s: idempotency.begin(
            engine, a["key"], A, "idem-1", "digest"
        ),
        "clinicbot.api.keys.create_key": lambda s: keys.create_key(
            s, name="x", scopes=["read"], clinic_id=A
        ),
        "clinicbot.api.keys.list_keys": lambda s: keys.list_keys(s, clinic_id=A),
        "clinicbot.api.keys.revoke_key": lambda s: keys.revoke_key(s, a["key"], clinic_id=A),
        "clinicbot.api.webhooks.delivery_log": lambda s: api_webhooks.delivery_log(engine, A, {})[
            "data"
        ],
        "clinicbot.integrations.events.emit_event": lambda s: events.emit_event(
            s, "handoff.requested", {"phone": PHONE}, clinic_id=A
        ),
        "clinicbot.integrations.subscriptions.create_subscription": (
            lambda s: subscriptions.create_subscription(s, url="https://x.example/", clinic_id=A)
        ),
        "clinicbot.integrations.subscriptions.list_subscriptions": (
            lambda s: subscriptions.list_subscriptions(s, clinic_id=A)
        ),
        "clinicbot.integrations.subscriptions.deactivate_subscription": (
            lambda s: subscriptions.deactivate_subscription(s, a["subscription"], clinic_id=A)
        ),
        "clinicbot.integrations.subscriptions.deliveries_query": lambda s: s.execute(
            subscriptions.deliveries_query(clinic_id=A)
        ).all(),
        "clinicbot.integrations.webhooks.replay_delivery": lambda s: crm_webhooks.replay_delivery(
            s, a["delivery"], clinic_id=A
        ),
        "clinicbot.messages.cache.load_snapshot": lambda s: (
            A_TEXT in repr(cache.load_snapshot(s, clinic_id=A))
        ),
        "clinicbot.messages.cache.TemplateCache.get": lambda s: (
            A_TEXT in repr(cache.TemplateCache().get(s, clinic_id=A))
        ),
        "clinicbot.messages.nlg.generate": lambda s: (
            A_TEXT in nlg.generate(s, nlg_body, clinic_id=A)["text"]
        ),
        "clinicbot.messages.rendering.render": lambda s: (
            A_TEXT in rendering.render(s, KEY, {}, clinic_id=A).text
        ),
        "clinicbot.messages.satisfaction.ask_due": lambda s: satisfaction.ask_due(
            s,
            satisfaction.FeedbackPolicy.from_settings(settings),
            now=period.bounds(tz)[0],
            clinic_id=A,
        ),
        "clinicbot.messages.store.seed": lambda s: store.seed(s, clinic_id=A),
        "clinicbot.messages.store.bump_revision": lambda s: store.bump_revision(s, clinic_id=A),
        "clinicbot.messages.store.save": lambda s: store.save(
            s, KEY, store.Edit("Olá da B", None, True), edited_by="b", clinic_id=A
        ),
        "clinicbot.messages.store.history": lambda s: store.history(s, KEY, clinic_id=A),
        "clinicbot.messages.store.rollback": lambda s: store.rollback(
            s, KEY, 1, edited_by="b", clinic_id=A
        ),
        "clinicbot.services.alerts.evaluator.AlertEvaluator.evaluate": lambda s: AlertEvaluator(
            settings, engine=engine, channels=[]
        ).evaluate(clinic_id=A),
        "clinicbot.services.analytics.dashboard_report": lambda s: (
            analytics.dashboard_report(s, period, tz=tz, clinic_id=A).conversations.started
        ),
        "clinicbot.services.booking_attempts.open_attempt": (
            lambda s: booking_attempts.open_attempt(
                phone=PHONE,
                cpf="39053344705",
                starts_at=period.bounds(tz)[0],
                patient_name=None,
                first_visit=False,
                clinic_id=A,
                engine=engine,
            )
        ),
        "clinicbot.services.nlu_review.messages_to_review": lambda s: nlu_review.messages_to_review(
            s, period, tz=tz, clinic_id=A
        ),
        "clinicbot.services.daily_metrics.clinic_daily_metrics": lambda s: (
            daily_metrics.clinic_daily_metrics(s, A, *ALL_DAYS)
        ),
    }


# What a read of clinic A's data returns while acting for B: nothing (or "A's text: no").
EMPTY: tuple[Any, ...] = ([], {}, None, False, 0)


def test_every_clinic_taking_service_refuses_another_clinic(
    engine: Engine, settings: Settings, clinic_a: dict[str, Any]
) -> None:
    table = probes(engine, settings, clinic_a)
    assert clinic_taking_functions() == set(table), "every such function needs a probe"
    before = _export(engine)
    assert any(A_TEXT in line for line in before)
    outcomes = {}
    for name, call in table.items():
        try:
            with acting_for(clinic_a["b"]), clinic_session(clinic_a["b"], engine) as session:
                outcomes[name] = call(session)
        except (CrossClinicWrite, LookupError) as refused:  # LookupError: not found
            outcomes[name] = type(refused).__name__
    leaked = {
        name: outcome
        for name, outcome in outcomes.items()
        if not (outcome in EMPTY or isinstance(outcome, str) or outcome is None)
        and not isinstance(outcome, int | list)
    }
    assert leaked == {}
    reads = {
        name: outcomes[name]
        for name in (
            "clinicbot.api.keys.list_keys",
            "clinicbot.api.webhooks.delivery_log",
            "clinicbot.integrations.subscriptions.list_subscriptions",
            "clinicbot.integrations.subscriptions.deliveries_query",
            "clinicbot.messages.cache.load_snapshot",
            "clinicbot.messages.cache.TemplateCache.get",
            "clinicbot.messages.nlg.generate",
            "clinicbot.messages.rendering.render",
            "clinicbot.services.analytics.dashboard_report",
            "clinicbot.services.nlu_review.messages_to_review",
            "clinicbot.services.daily_metrics.clinic_daily_metrics",
            "clinicbot.api.keys.revoke_key",
            "clinicbot.integrations.subscriptions.deactivate_subscription",
            "clinicbot.integrations.webhooks.replay_delivery",
        )
    }
    assert all(outcome in EMPTY for outcome in reads.values()), reads
    writes = (
        "clinicbot.api.keys.create_key",
        "clinicbot.integrations.events.emit_event",
        "clinicbot.integrations.subscriptions.create_subscription",
        "clinicbot.messages.store.save",
    )
    assert {name: outcomes[name] for name in writes} == dict.fromkeys(writes, "CrossClinicWrite")
    assert _export(engine) == before  # whatever the rest did, nothing of clinic A changed
    with acting_for(A), clinic_session(A, engine) as session:  # A itself sees its figures
        [day] = daily_metrics.clinic_daily_metrics(session, A, *ALL_DAYS)
        assert day["total_conversations"] == 1
    with session_scope(engine) as session:
        assert session.execute(select(ConversationMessage.clinic_id)).scalars().all() == [A]
