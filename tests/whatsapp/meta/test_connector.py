"""The Meta Cloud API connector over real HTTP, with the fake Graph API of the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.settings import (
    SANDBOX_META_APP_SECRET,
    SANDBOX_META_PHONE_NUMBER_ID,
    SANDBOX_META_VERIFY_TOKEN,
    get_settings,
)
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.whatsapp.meta.payloads import envelope, list_reply, status, text_message
from clinicbot.whatsapp.meta.signature import sign
from clinicbot.whatsapp.outbox import enqueue_text
from tests.whatsapp.harness import (
    ConnectorHarness,
    make_meta,
    post_signed,
    wait_for,
    wait_settled,
)

PHONE = "5531988887777"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def meta(engine: Engine) -> Iterator[ConnectorHarness]:
    harness = ConnectorHarness(engine, make_meta, meta_template_name="aviso_clinica")
    yield harness
    harness.stop()


def sent(harness: ConnectorHarness, count: int) -> list[Any]:
    return wait_for(lambda: len(found := harness.fakes.meta.messages) >= count and found)


def test_verification_handshake(meta: ConnectorHarness) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": SANDBOX_META_VERIFY_TOKEN}
    answer = requests.get(meta.url + "/webhook", params={**params, "hub.challenge": "1158201444"})
    assert (answer.status_code, answer.text) == (200, "1158201444")
    wrong = {**params, "hub.verify_token": "nope", "hub.challenge": "1"}
    assert requests.get(meta.url + "/webhook", params=wrong).status_code == 403
    other_mode = {**params, "hub.mode": "unsubscribe", "hub.challenge": "1"}
    assert requests.get(meta.url + "/webhook", params=other_mode).status_code == 403


def test_signature_is_required(meta: ConnectorHarness, caplog) -> None:
    payload = envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")])
    assert meta.post(json=payload).status_code == 401
    assert post_signed(meta, payload, secret="wrong").status_code == 401
    assert "X-Hub-Signature-256" in caplog.text
    body = b"{not json"
    headers = {"X-Hub-Signature-256": sign(body, SANDBOX_META_APP_SECRET)}
    assert meta.post(data=body, headers=headers).status_code == 400
    assert meta.bot.messages == []


def test_text_is_answered_once_through_the_graph_api(meta: ConnectorHarness) -> None:
    payload = envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")])
    assert post_signed(meta, payload).json() == {"status": "ok", "events": ["accepted"]}
    assert post_signed(meta, payload).json() == {"status": "ok", "events": ["duplicate"]}
    [reply] = sent(meta, 1)
    assert (reply.to, reply.kind, reply.body["text"]) == (PHONE, "text", {"body": "eco: oi"})
    wait_settled(meta.engine)
    assert len(meta.fakes.meta.messages) == 1 and len(meta.bot.messages) == 1


def test_menus_are_interactive_lists_and_replies_come_back(meta: ConnectorHarness) -> None:
    post_signed(
        meta, envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "menu")])
    )
    [menu] = sent(meta, 1)
    assert menu.kind == "interactive"
    rows = menu.body["interactive"]["action"]["sections"][0]["rows"]
    assert [row["title"] for row in rows] == ["terça, 01/12", "quarta"]
    tapped = list_reply(PHONE, rows[1]["id"], rows[1]["title"], context_id=menu.wamid)
    post_signed(meta, envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[tapped]))
    sent(meta, 2)
    last = meta.bot.messages[-1]
    assert last.text == "quarta" and last.metadata["options_offered"] is True
    assert last.metadata["reference_id"] == menu.wamid


def test_statuses_update_the_outbox(meta: ConnectorHarness, engine: Engine) -> None:
    post_signed(meta, envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")]))
    [reply] = sent(meta, 1)
    wait_for(lambda: outbox(engine) == [("sent", reply.wamid)])
    for state in ("delivered", "read"):
        update = envelope(
            SANDBOX_META_PHONE_NUMBER_ID, statuses=[status(reply.wamid, PHONE, state)]
        )
        assert post_signed(meta, update).json() == {"status": "ok", "events": ["recorded"]}
        assert outbox(engine) == [(state, reply.wamid)]


def outbox(engine: Engine) -> list[tuple[str, str | None]]:
    with session_scope(engine) as session:
        query = select(OutboxMessage.status, OutboxMessage.external_message_id)
        return [tuple(row) for row in session.execute(query.order_by(OutboxMessage.id))]


def test_outside_the_window_a_proactive_message_goes_as_the_template(
    meta: ConnectorHarness, engine: Engine
) -> None:
    reminder = "Lembrete: sua consulta é amanhã às 08:30. Responda SIM para confirmar."
    with session_scope(engine) as session:
        enqueue_text(session, PHONE, reminder, channel="meta", dedupe_key="reminder:1:24h")
    meta.worker.wake()
    [template] = sent(meta, 1)
    assert template.kind == "template"
    assert template.body["template"]["name"] == "aviso_clinica"
    assert template.body["template"]["language"] == {"code": "pt_BR"}
    parameters = template.body["template"]["components"][0]["parameters"]
    assert parameters == [{"type": "text", "text": reminder}]

    post_signed(meta, envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")]))
    assert sent(meta, 2)[1].kind == "text"  # inside the window now


def test_without_a_template_a_proactive_message_is_dead_at_once(engine: Engine) -> None:
    harness = ConnectorHarness(engine, make_meta)
    try:
        with session_scope(engine) as session:
            enqueue_text(session, PHONE, "Lembrete", channel="meta")
        harness.worker.wake()
        wait_for(lambda: outbox(engine) == [("dead", None)])
        assert harness.fakes.meta.messages == []
    finally:
        harness.stop()


def test_graph_api_errors_are_retried(meta: ConnectorHarness) -> None:
    meta.fakes.meta.failures_left = 2
    post_signed(meta, envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")]))
    [reply] = sent(meta, 1)
    assert reply.body["text"]["body"] == "eco: oi"


def test_a_body_over_the_limit_is_refused_before_its_signature_is_checked(
    meta: ConnectorHarness, caplog: pytest.LogCaptureFixture
) -> None:
    message = text_message(PHONE, "x" * 2_000_000)
    body = json.dumps(envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[message])).encode()
    assert post_signed(meta, body).status_code == 413
    chunks = (body[start : start + 16384] for start in range(0, len(body), 16384))
    signed = {"X-Hub-Signature-256": sign(body, SANDBOX_META_APP_SECRET)}
    assert meta.post(data=chunks, headers=signed).status_code == 413
    assert caplog.text.count("body over 65536 bytes") == 2
    assert meta.bot.messages == []


@pytest.mark.parametrize(
    "header",
    ["sha256=" + "é" * 64, b"sha256=\xff\xfe", "sha256=" + "a" * 5000],
    ids=["latin1", "not-utf8", "over-long"],
)
def test_odd_signatures_are_refused_never_an_error(meta: ConnectorHarness, header: object) -> None:
    payload = envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[text_message(PHONE, "oi")])
    answer = meta.post(json=payload, headers={"X-Hub-Signature-256": header})
    assert answer.status_code == 401


def test_an_odd_verify_token_is_refused(meta: ConnectorHarness) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tökén", "hub.challenge": "1"}
    assert requests.get(meta.url + "/webhook", params=params, timeout=10).status_code == 403
    odd_bytes = meta.url + "/webhook?hub.mode=subscribe&hub.verify_token=%FF%FE&hub.challenge=1"
    assert requests.get(odd_bytes, timeout=10).status_code == 403


def _with(message: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[{**message, **changes}])


OI = text_message(PHONE, "oi")


def _value(value: Any) -> dict[str, Any]:
    """An envelope whose one change has ``value`` (for our number, unless it says otherwise)."""
    if isinstance(value, dict):
        value = {"metadata": {"phone_number_id": SANDBOX_META_PHONE_NUMBER_ID}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": value}]}],
    }


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_with(OI, timestamp="-1"), id="negative-timestamp"),
        pytest.param(_with(OI, timestamp="1e20"), id="huge-timestamp"),
        pytest.param(_with(OI, timestamp="amanhã"), id="word-timestamp"),
        pytest.param(_with(OI, text={"body": "oi\x00"}), id="nul"),
        pytest.param(_with(OI, text={"body": "oi \ud800"}), id="lone-surrogate"),
        pytest.param(_with(OI, **{"from": "5531988887777" * 5}), id="long-from"),
        pytest.param(_with(OI, id="wamid." + "A" * 100), id="long-id"),
        pytest.param(_with(OI, id={"wamid": 1}), id="object-id"),
        pytest.param(_value({"statuses": {"id": "wamid.X"}}), id="statuses-object"),
        pytest.param(_value({"messages": 7}), id="messages-number"),
        pytest.param(_value([]), id="value-list"),
    ],
)
def test_absurd_values_are_refused_with_a_log_line(
    meta: ConnectorHarness, caplog: pytest.LogCaptureFixture, payload: dict[str, Any]
) -> None:
    assert post_signed(meta, payload).status_code == 400
    assert "meta webhook rejected: malformed body" in caplog.text
    assert meta.bot.messages == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_value({"metadata": ["x"]}), id="metadata-list"),
        pytest.param(
            _with(OI, type="interactive", interactive={"type": ["list_reply"]}),
            id="reply-type-list",
        ),
    ],
)
def test_odd_shapes_of_what_is_only_looked_at_are_ignored(
    meta: ConnectorHarness, payload: dict[str, Any]
) -> None:
    assert post_signed(meta, payload).json() == {"status": "ok", "events": ["ignored"]}


def test_a_failed_status_with_odd_errors_is_still_recorded(meta: ConnectorHarness) -> None:
    odd = status("wamid.HBgMODD", PHONE, "failed", errors={"code": 131047})
    payload = envelope(SANDBOX_META_PHONE_NUMBER_ID, statuses=[odd])
    assert post_signed(meta, payload).json() == {"status": "ok", "events": ["recorded"]}


def test_the_phone_number_selects_the_clinic(meta: ConnectorHarness, engine: Engine) -> None:
    """A number no clinic has is a 404 (once signed); another clinic's number files the message
    under that clinic (clinicbot.tenancy)."""
    unknown = envelope("999999999999999", messages=[text_message(PHONE, "oi")])
    assert post_signed(meta, unknown).status_code == 404
    with session_scope(engine) as session:
        clinic_id, _ = add_clinic(
            session,
            NewClinic(
                slug="sul",
                name="Sul",
                meta_phone_number_id="200000000000002",
                meta_app_secret=SANDBOX_META_APP_SECRET,
                meta_access_token="sul-access",
                meta_verify_token="sul-verify",
            ),
            get_settings(),
        )
    sul = envelope("200000000000002", messages=[text_message(PHONE, "oi")])
    assert post_signed(meta, sul).json() == {"status": "ok", "events": ["accepted"]}
    with session_scope(engine) as session:
        stored = session.execute(select(ConversationMessage.clinic_id)).scalars().all()
    assert clinic_id in stored
