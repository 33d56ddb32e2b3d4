"""Waiting list, LGPD export and erasure, metrics and webhook subscriptions over the public API."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from clinicbot.api.keys import create_key
from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Conversation,
    ConversationMessage,
    IntegrationEvent,
    WaitingList,
    WebhookDelivery,
)
from clinicbot.settings import get_settings
from clinicbot.tenancy.registry import NewClinic, add_clinic
from tests.api.conftest import MARINA_CPF, PHONE, Api, assert_problem

OTHER = "5531977776666"


def test_waiting_list_add_position_remove(api: Api) -> None:
    write, read = api.key("write"), api.key("read")
    first = api.post("/api/v1/waiting-list", write, {"phone": OTHER, "cpf": "52998224725"})
    body = {"phone": PHONE, "cpf": MARINA_CPF, "preferred_period": "morning"}
    joined = api.post("/api/v1/waiting-list", write, body)
    assert (first.status_code, joined.status_code) == (201, 201)
    assert joined.json()["position"] == 2 and not joined.json()["already_waiting"]
    again = api.post("/api/v1/waiting-list", write, {**body, "preferred_period": "any"})
    assert again.status_code == 200 and again.json()["already_waiting"]

    assert api.get(f"/api/v1/waiting-list/{PHONE}/position", read).json()["position"] == 2
    assert api.delete(f"/api/v1/waiting-list/{OTHER}", write).json()["removed"]
    assert api.get(f"/api/v1/waiting-list/{PHONE}/position", read).json()["position"] == 1
    assert_problem(api.delete(f"/api/v1/waiting-list/{OTHER}", write), 404)
    assert_problem(api.get(f"/api/v1/waiting-list/{OTHER}/position", read), 404)
    assert_problem(api.post("/api/v1/waiting-list", write, {**body, "preferred_period": "x"}), 400)
    bad_range = {**body, "date_from": "2031-03-10", "date_to": "2031-03-01"}
    assert (
        assert_problem(api.post("/api/v1/waiting-list", write, bad_range), 400)["invalid_field"]
        == "date_to"
    )
    waiting = api.get("/api/v1/waiting-list", read, status="waiting").json()["data"]
    assert [(e["phone"], e["preferred_period"]) for e in waiting] == [(PHONE, "any")]
    joined_events = api.events("waitlist.joined")
    assert [event.payload["phone"] for event in joined_events] == [OTHER, PHONE]


def test_export_then_erase_a_patient(api: Api) -> None:
    admin = api.key("admin")
    moment = datetime(2031, 3, 10, 12, tzinfo=timezone.utc)
    with session_scope(api.engine) as session:
        for text in ("quero marcar", "Qual dia prefere?"):
            session.add(
                ConversationMessage(
                    phone=PHONE, direction="in", text=text, status="processed", created_at=moment
                )
            )
        session.add(ConversationMessage(phone=OTHER, direction="in", text="oi", status="processed"))
    write = api.key("write")
    joined = {"phone": PHONE, "cpf": MARINA_CPF}
    assert api.post("/api/v1/waiting-list", write, joined, key="join-1").status_code == 201
    other = {"phone": OTHER, "cpf": "52998224725"}
    assert api.post("/api/v1/waiting-list", write, other, key="join-2").status_code == 201

    page = api.get(f"/api/v1/patients/{PHONE}/conversations", admin, limit="1").json()
    rest = api.get(
        f"/api/v1/patients/{PHONE}/conversations", admin, cursor=page["next_cursor"]
    ).json()
    assert [m["text"] for m in page["data"] + rest["data"]] == ["quero marcar", "Qual dia prefere?"]

    erased = api.delete(f"/api/v1/patients/{PHONE}", admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["conversation_messages"] == 2
    with session_scope(api.engine) as session:
        assert session.execute(select(func.count()).select_from(WaitingList)).scalar() == 1
        left = session.execute(select(ConversationMessage.phone)).scalars().all()
        assert left == [OTHER]
        about = select(IntegrationEvent).where(IntegrationEvent.patient_phone == PHONE)
        assert session.execute(about).first() is None  # the CRM events about them too
    assert api.get(f"/api/v1/patients/{PHONE}/conversations", admin).json()["data"] == []
    # The stored response to their POST named them: a retry now gets a 410, never the data,
    # and is not run again; another patient's stored response is untouched.
    assert erased.json()["erased"]["api_idempotency_keys"] == 1
    replay = api.post("/api/v1/waiting-list", write, joined, key="join-1")
    assert PHONE not in replay.text and MARINA_CPF not in replay.text
    assert assert_problem(replay, 410)["type"].endswith("/response-erased")
    assert api.post("/api/v1/waiting-list", write, other, key="join-2").json()["phone"] == OTHER
    with session_scope(api.engine) as session:
        assert session.execute(select(func.count()).select_from(WaitingList)).scalar() == 1
    assert_problem(api.delete("/api/v1/patients/12", admin), 400)


def test_metrics_of_a_date_range_are_the_keys_clinics(api: Api) -> None:
    with session_scope(api.engine) as session:
        other, _ = add_clinic(session, NewClinic(slug="sul", name="Sul"), get_settings())
        for clinic, day, count in ((1, 9, 4), (1, 10, 2), (1, 11, 1), (other, 10, 5)):
            for n in range(count):
                session.add(
                    Conversation(
                        clinic_id=clinic,
                        phone=f"55319{clinic:02d}{day:02d}{n:04d}",
                        started_at=datetime(2031, 3, day, 15, tzinfo=timezone.utc),
                        resolved_by_bot=n == 0,
                        appointment_booked=n == 0 and clinic == 1,
                        satisfaction=4 if n == 0 else None,
                    )
                )
    span = {"from": "2031-03-10", "to": "2031-03-11"}
    mine = api.get("/api/v1/metrics", api.key("read"), **span)
    assert mine.status_code == 200, mine.text
    assert [
        (d["date"], d["total_conversations"], d["successful_appointments"], d["satisfaction"])
        for d in mine.json()["data"]
    ] == [("2031-03-10", 2, 1, 4.0), ("2031-03-11", 1, 1, 4.0)]
    assert mine.json()["data"][0]["bot_resolution_rate"] == 0.5
    with session_scope(api.engine) as session:
        theirs_key = create_key(session, name="sul", scopes=["read"], clinic_id=other).key
    theirs = api.get("/api/v1/metrics", {"Authorization": f"Bearer {theirs_key}"}, **span)
    assert [(d["date"], d["total_conversations"]) for d in theirs.json()["data"]] == [
        ("2031-03-10", 5)
    ]
    read = api.key("read")
    assert_problem(api.get("/api/v1/metrics", read, **{"from": "2031-03-10"}), 400)
    assert_problem(
        api.get("/api/v1/metrics", read, **{"from": "2031-03-10", "to": "2030-01-01"}), 400
    )


def test_subscriptions_and_the_delivery_log(api: Api) -> None:
    admin = api.key("admin")
    created = api.post(
        "/api/v1/webhooks/subscriptions",
        admin,
        {"url": "http://127.0.0.1:9/crm", "event_types": ["waitlist.joined"]},
    )
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks/subscriptions", admin).json()["data"]
    assert [s["id"] for s in listed] == [subscription["id"]] and "secret" not in listed[0]
    for bad in ({"url": "ftp://x"}, {"url": "http://x/y", "event_types": ["nope"]}):
        assert_problem(api.post("/api/v1/webhooks/subscriptions", admin, bad), 400)

    api.post("/api/v1/waiting-list", api.key("write"), {"phone": PHONE, "cpf": MARINA_CPF})
    [delivery] = api.get("/api/v1/webhooks/deliveries", admin).json()["data"]
    assert (delivery["event_type"], delivery["status"]) == ("waitlist.joined", "pending")
    replay = api.post(f"/api/v1/webhooks/deliveries/{delivery['delivery_id']}/replay", admin, {})
    assert replay.status_code == 202 and replay.json()["replay_of"] == delivery["delivery_id"]
    log = api.get("/api/v1/webhooks/deliveries", admin, status="pending").json()["data"]
    assert {d["event_id"] for d in log} == {delivery["event_id"]} and len(log) == 2
    assert_problem(api.post("/api/v1/webhooks/deliveries/dlv_nope/replay", admin, {}), 404)
    assert_problem(api.get("/api/v1/webhooks/deliveries", admin, status="lost"), 400)

    gone = api.delete(f"/api/v1/webhooks/subscriptions/{subscription['id']}", admin)
    assert gone.json()["active"] is False
    api.post("/api/v1/waiting-list", api.key("write"), {"phone": OTHER, "cpf": "52998224725"})
    with session_scope(api.engine) as session:  # no delivery for an inactive subscription
        assert session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 2
