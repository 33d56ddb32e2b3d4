"""Cross-tenant staff access, over real HTTP on SQLite and PostgreSQL: clinic B's staff token
tries to read and write clinic A's data through every staff endpoint of the app.

The endpoints are enumerated from the app's router, not listed by hand: a staff route that is
neither a data-free page nor guarded by :mod:`clinicbot.web.staff_auth`, or that has no probe
in :data:`PROBES`, fails the test. Clinic A (the default clinic) first creates its data through
the same endpoints with its own token; after clinic B's probes, each answering "not found",
"nothing" or only B's own, every row of clinic A is unchanged (its export, byte for byte).
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiKey, ConversationDashboard, WebhookSubscription
from clinicbot.integrations.events import emit_event
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import Settings
from clinicbot.tenancy.clinic_data import export_clinic
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.web import staff_auth
from clinicbot.web.app import create_app
from tests.db import factories

A_TOKEN = "staff-clinic-a-token"
PHONE = "5531988887777"
KEY = "utter_saudacao"
A_TEXT = "Olá! Aqui é a Clínica A, a sua clínica de sempre. Como posso ajudar?"
A_VARIANT = "Oi! Clínica A falando. Quer marcar uma consulta?"
A_MESSAGE = "mensagem confusa da clinica A"
DAY = {"from": "2031-03-10", "to": "2031-03-10"}
# Staff routes that hold no data (pages and their static files): anyone may fetch them.
PAGES = {
    ("GET", "/staff/login"),
    ("GET", "/staff/dashboard"),
    ("GET", "/staff/integrations"),
    ("GET", "/staff/page/templates"),
    ("GET", "/staff/page/templates.js"),
    ("GET", "/staff/static/<__file_uri__:path>"),
    ("GET", "/staff/vendor/<__file_uri__:path>"),
}
# The code of for_staff's and for_operator's wrapper (functools.wraps keeps the handler's name).
GUARD = (staff_auth.__file__, "guarded")


@dataclasses.dataclass
class ClinicA:
    """What clinic A made, by id, for clinic B to go after."""

    test_id: int
    key_id: int
    subscription_id: int
    delivery_id: str
    template_version: int


@dataclasses.dataclass
class Probe:
    """One request of clinic B's staff and what a tenant-safe answer looks like."""

    method: str
    path: str
    check: Callable[[requests.Response], bool]
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


def _status(code: int) -> Callable[[requests.Response], bool]:
    return lambda response: response.status_code == code


def _empty(field: str) -> Callable[[requests.Response], bool]:
    return lambda response: response.status_code == 200 and response.json()[field] == []


def probes(a: ClinicA, b: int) -> dict[tuple[str, str], Probe]:
    """A probe per staff route (the router's pattern → the request clinic B's staff make)."""
    ab, keys, hooks = "/staff/ab-tests", "/staff/api-keys", "/staff/webhooks"
    variants = {"name": "b-test", "template_key": KEY, "variants": {"default": 1, "b": 1}}
    return {
        ("GET", ab): Probe("GET", ab, _empty("tests")),
        # Clinic A's variant "b" is not clinic B's: B has no such text to test.
        ("POST", ab): Probe("POST", ab, _status(422), {**variants, "metric": "booking"}),
        ("GET", f"{ab}/<test_id:int>/report"): Probe(
            "GET", f"{ab}/{a.test_id}/report", _status(404)
        ),
        ("POST", f"{ab}/<test_id:int>/start"): Probe(
            "POST", f"{ab}/{a.test_id}/start", _status(404)
        ),
        ("POST", f"{ab}/<test_id:int>/stop"): Probe(
            "POST", f"{ab}/{a.test_id}/stop", _status(404), {"keep": "b"}
        ),
        ("GET", keys): Probe("GET", keys, _empty("data")),
        ("POST", keys): Probe("POST", keys, _status(201), {"name": "crm-b", "scopes": ["read"]}),
        ("DELETE", f"{keys}/<key_id:int>"): Probe("DELETE", f"{keys}/{a.key_id}", _status(404)),
        ("GET", "/staff/api/session"): Probe(
            "GET",
            "/staff/api/session",
            lambda r: r.status_code == 200 and r.json()["clinic"]["id"] == b,
        ),
        ("GET", "/staff/api/dashboard"): Probe(
            "GET",
            "/staff/api/dashboard",
            lambda r: (
                r.status_code == 200
                and r.json()["clinic_id"] == b
                and r.json()["conversations"]["started"] == 0
            ),
            params=DAY,
        ),
        ("GET", "/staff/api/dashboard/review"): Probe(
            "GET", "/staff/api/dashboard/review", _empty("messages"), params=DAY
        ),
        ("GET", "/staff/api/dashboard/review.yml"): Probe(
            "GET",
            "/staff/api/dashboard/review.yml",
            lambda r: r.status_code == 200 and A_MESSAGE not in r.text,
            params=DAY,
        ),
        ("GET", "/staff/handoffs"): Probe("GET", "/staff/handoffs", _empty("handoffs")),
        ("POST", "/staff/handoffs/<phone:str>/resume"): Probe(
            "POST", f"/staff/handoffs/{PHONE}/resume", _status(404)
        ),
        ("DELETE", "/staff/patients/<phone:str>"): Probe(
            "DELETE",
            f"/staff/patients/{PHONE}",
            lambda r: r.status_code == 200 and not any(r.json()["erased"].values()),
        ),
        ("GET", "/staff/templates"): Probe(
            "GET",
            "/staff/templates",
            lambda r: (
                r.status_code == 200
                and A_TEXT not in r.text
                and all(not t["edited"] for t in r.json()["templates"])
            ),
        ),
        ("GET", "/staff/templates/<key:str>"): Probe(
            "GET",
            f"/staff/templates/{KEY}",
            lambda r: r.status_code == 200 and r.json()["variants"] == {} and A_TEXT not in r.text,
        ),
        ("PUT", "/staff/templates/<key:str>"): Probe(
            "PUT", f"/staff/templates/{KEY}", _status(200), {"text": "Olá da Clínica B!"}
        ),
        ("POST", "/staff/templates/<key:str>/preview"): Probe(
            "POST",
            f"/staff/templates/{KEY}/preview",
            lambda r: r.status_code == 200 and A_TEXT not in r.text,
            {"text": "Olá"},
        ),
        ("GET", "/staff/templates/<key:str>/history"): Probe(
            "GET",
            f"/staff/templates/{KEY}/history",
            lambda r: r.status_code == 200 and A_TEXT not in r.text,
        ),
        ("POST", "/staff/templates/<key:str>/rollback"): Probe(
            "POST",
            f"/staff/templates/{KEY}/rollback",
            _status(404),
            {"version": a.template_version},
        ),
        ("GET", f"{hooks}/subscriptions"): Probe("GET", f"{hooks}/subscriptions", _empty("data")),
        ("POST", f"{hooks}/subscriptions"): Probe(
            "POST", f"{hooks}/subscriptions", _status(201), {"url": "https://crm-b.example/h"}
        ),
        ("DELETE", f"{hooks}/subscriptions/<subscription_id:int>"): Probe(
            "DELETE", f"{hooks}/subscriptions/{a.subscription_id}", _status(404)
        ),
        ("GET", f"{hooks}/deliveries"): Probe("GET", f"{hooks}/deliveries", _empty("data")),
        ("POST", f"{hooks}/deliveries/<delivery_id:str>/replay"): Probe(
            "POST", f"{hooks}/deliveries/{a.delivery_id}/replay", _status(404)
        ),
        # The installation's health is the deployment's (the default clinic's) staff's.
        ("GET", "/health/detailed"): Probe("GET", "/health/detailed", _status(401)),
    }


def staff_routes(app: Sanic) -> dict[tuple[str, str], tuple[str, str]]:
    """Every route of the staff areas (``/staff``, ``/health/detailed``) of the running app →
    the file and name of its handler's code."""
    found = {}
    for route in app.router.routes:
        path = "/" + route.path
        if path.startswith("/staff/") or path == "/health/detailed":
            for method in route.methods - {"HEAD", "OPTIONS"}:
                code = getattr(route.handler, "__code__", None)  # static files: a partial
                found[(method, path)] = (code.co_filename, code.co_name) if code else ("", "")
    return found


@pytest.fixture
def service(engine: Engine, settings: Settings) -> Iterator[tuple[str, Sanic]]:
    configured = dataclasses.replace(
        settings,
        database_url=engine.url.render_as_string(hide_password=False),
        staff_token=A_TOKEN,
        scheduler_enabled=False,
        webhooks_enabled=False,  # clinic A's rows change only if clinic B changes them
    )
    app = create_app(configured, name=f"cross-tenant-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app) as server:
        yield server.url, app


def _call(url: str, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{url}{path}", headers=headers, timeout=15, **kwargs)


def _clinic_a(url: str, engine: Engine) -> ClinicA:
    """Clinic A's data, made through the staff endpoints with A's token where there is one."""

    def a(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = _call(url, A_TOKEN, method, path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    a("PUT", f"/staff/templates/{KEY}", {"text": A_TEXT + " "})
    version = a("PUT", f"/staff/templates/{KEY}", {"text": A_TEXT})["version"]
    a("PUT", f"/staff/templates/{KEY}", {"text": A_VARIANT, "variant": "b"})
    test = a(
        "POST",
        "/staff/ab-tests",
        {"name": "a-test", "template_key": KEY, "variants": {"default": 1, "b": 1},
         "metric": "booking"},
    )  # fmt: skip
    a("POST", f"/staff/ab-tests/{test['id']}/start")
    key = a("POST", "/staff/api-keys", {"name": "crm-a", "scopes": ["read"]})
    subscription = a("POST", "/staff/webhooks/subscriptions", {"url": "https://crm-a.example/h"})
    with clinic_session(1, engine) as session:
        emit_event(session, "handoff.requested", {"phone": PHONE, "name": "Paciente A"})
        conversation = factories.conversation(phone=PHONE)
        session.add(conversation)
        session.flush()
        session.add(ConversationDashboard(phone=PHONE, status="waiting_human"))
        session.add(
            factories.message(
                conversation_id=conversation.id,
                text=A_MESSAGE,
                intent="nlu_fallback",
                confidence=0.2,
            )
        )
    deliveries = a("GET", "/staff/webhooks/deliveries")["data"]
    return ClinicA(
        test_id=test["id"],
        key_id=key["id"],
        subscription_id=subscription["id"],
        delivery_id=deliveries[0]["delivery_id"],
        template_version=version,
    )


def _export(engine: Engine, clinic_id: int) -> list[str]:
    out = io.StringIO()
    export_clinic(engine, clinic_id, out)
    return out.getvalue().splitlines()[1:]  # the header has the time of the export


def test_clinic_b_reaches_none_of_clinic_as_data_through_any_staff_endpoint(
    engine: Engine, settings: Settings, service: tuple[str, Sanic]
) -> None:
    url, app = service
    routes = staff_routes(app)
    unguarded = {route for route, name in routes.items() if name != GUARD} - PAGES
    assert unguarded == set(), "staff routes without the staff check"
    with session_scope(engine) as session:
        b, b_token = add_clinic(session, NewClinic(slug="b", name="Clínica B"), settings)
    a = _clinic_a(url, engine)
    table = probes(a, b)
    assert set(routes) - PAGES == set(table), "every staff route needs a cross-tenant probe"

    before = _export(engine, 1)
    assert any(A_TEXT in line for line in before) and len(before) > 10
    for route, probe in table.items():
        answer = _call(url, b_token, probe.method, probe.path, json=probe.body, params=probe.params)
        assert probe.check(answer), f"{route}: {answer.status_code} {answer.text[:300]}"
    assert _export(engine, 1) == before  # not a row of clinic A changed

    # What clinic B's staff did write is clinic B's; clinic A's staff do not see it.
    with session_scope(engine) as session:
        owners = {
            model.__tablename__: sorted(session.execute(select(model.clinic_id)).scalars())
            for model in (ApiKey, WebhookSubscription)
        }
    assert owners == {"api_keys": [1, b], "webhook_subscriptions": [1, b]}
    for path, field in (("/staff/api-keys", "data"), ("/staff/webhooks/subscriptions", "data")):
        assert len(_call(url, A_TOKEN, "GET", path).json()[field]) == 1
    assert _call(url, A_TOKEN, "GET", "/staff/handoffs").json()["handoffs"] != []
    report = _call(url, A_TOKEN, "GET", "/staff/api/dashboard", params=DAY).json()
    assert report["conversations"]["started"] == 1


def test_without_a_clinics_token_every_staff_endpoint_is_refused(
    engine: Engine, service: tuple[str, Sanic]
) -> None:
    url, app = service
    for (method, path), _ in staff_routes(app).items():
        if (method, path) in PAGES:
            continue
        concrete = path.replace("<test_id:int>", "1").replace("<key_id:int>", "1")
        concrete = concrete.replace("<subscription_id:int>", "1").replace("<phone:str>", PHONE)
        concrete = concrete.replace("<key:str>", KEY).replace("<delivery_id:str>", "dlv_x")
        for token in ("", "not-a-token", json.dumps({"clinic_id": 1})):
            answer = _call(url, token, method, concrete, json={})
            assert answer.status_code == 401, (method, path, token)
