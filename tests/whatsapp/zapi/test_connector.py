"""The Z-API connector over real HTTP: auth, every callback kind, idempotency, outbox, restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.sandbox.zapi_fake import Outage
from clinicbot.services.templates import ONLY_TEXT_REPLY
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.whatsapp.harness import (
    ZAPI_TOKEN,
    ConnectorHarness,
    make_zapi,
    wait_for,
    wait_settled,
)

PAYLOADS = Path(__file__).parent / "payloads"
PHONE = "5531988887777"
TOKEN = ZAPI_TOKEN


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def zapi(engine: Engine) -> Iterator[ConnectorHarness]:
    harness = ConnectorHarness(engine, make_zapi())
    yield harness
    harness.stop()


def fixture_payload(name: str, **overrides: Any) -> dict[str, Any]:
    payload = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    if "instanceId" in payload:
        payload["instanceId"] = SANDBOX_ZAPI_INSTANCE_ID
    payload.update(overrides)
    return payload


def text(body: str, **kwargs: Any) -> dict[str, Any]:
    return received_callback(SANDBOX_ZAPI_INSTANCE_ID, PHONE, text_content(body), **kwargs)


def delivered(zapi: ConnectorHarness, count: int, phone: str = PHONE) -> list[Any]:
    return wait_for(
        lambda: len(found := zapi.fakes.zapi.messages_after(0, phone)) >= count and found
    )


def test_bad_credentials_are_refused(zapi: ConnectorHarness, caplog) -> None:
    assert zapi.post(json=text("oi")).status_code == 401
    assert zapi.post(json=text("oi"), headers={"z-api-token": "wrong"}).status_code == 401
    assert zapi.post("/webhook/some-secret", json=text("oi"), headers=TOKEN).status_code == 401
    other = {**text("oi"), "instanceId": "ANOTHERINSTANCE"}
    assert zapi.post(json=other, headers=TOKEN).status_code == 404  # no clinic has it
    assert "zapi webhook from 127.0.0.1 rejected" in caplog.text
    assert "unknown instanceId 'ANOTHERINSTANCE'" in caplog.text
    assert zapi.bot.messages == []


def test_malformed_bodies_are_refused(zapi: ConnectorHarness) -> None:
    headers = {**TOKEN, "content-type": "application/json"}
    assert zapi.post(data=b"{not json", headers=headers).status_code == 400
    assert zapi.post(json=["a list"], headers=TOKEN).status_code == 400
    assert zapi.post(json={"type": "ReceivedCallback"}, headers=TOKEN).status_code == 400


def test_secret_path_segment(engine: Engine) -> None:
    harness = ConnectorHarness(engine, make_zapi(secret="s3cr3t-path"))
    try:
        assert harness.post(json=text("oi"), headers=TOKEN).status_code == 401
        assert harness.post("/webhook/wrong", json=text("oi")).status_code == 401
        bad_header = {"z-api-token": "wrong"}
        assert (
            harness.post("/webhook/s3cr3t-path", json=text("oi"), headers=bad_header).status_code
            == 401
        )
        assert harness.post("/webhook/s3cr3t-path", json=text("oi")).status_code == 200
        assert delivered(harness, 1)[0].message == "eco: oi"
    finally:
        harness.stop()


def test_text_is_stored_acknowledged_answered_and_logged(zapi: ConnectorHarness, engine) -> None:
    started = time.monotonic()
    answer = zapi.post(json=text("quero agendar"), headers=TOKEN)
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}
    assert time.monotonic() - started < 1.0
    [reply] = delivered(zapi, 1)
    assert reply.message == "eco: quero agendar"
    wait_for(lambda: _statuses(engine) == [("in", "processed"), ("out", "sent")])
    [message] = zapi.bot.messages
    assert message.sender_id == PHONE and message.input_channel == "zapi"
    assert message.metadata["options_offered"] is False


def _statuses(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        query = select(ConversationMessage.direction, ConversationMessage.status)
        return [tuple(row) for row in session.execute(query.order_by(ConversationMessage.id))]


def _attempts(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        query = select(OutboxMessage.attempts).order_by(OutboxMessage.id)
        return list(session.execute(query).scalars())


def test_duplicate_deliveries_run_one_turn(zapi: ConnectorHarness) -> None:
    payload = text("oi")
    answers = [zapi.post(json=payload, headers=TOKEN).json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    delivered(zapi, 1)
    wait_settled(zapi.engine)
    assert len(zapi.fakes.zapi.messages) == 1 and len(zapi.bot.messages) == 1


def test_reply_without_message_id_is_deduplicated_by_synthetic_key(zapi: ConnectorHarness) -> None:
    # Start of a 10 s bucket, so the redelivery 2 s later falls in the same one.
    bucket_start = int(time.time() // 10 * 10) * 1000
    payload = fixture_payload("button_reply_without_message_id", momment=bucket_start)
    assert zapi.post(json=payload, headers=TOKEN).json()["status"] == "accepted"
    payload["momment"] += 2000
    assert zapi.post(json=payload, headers=TOKEN).json()["status"] == "duplicate"
    assert delivered(zapi, 1)[0].message == "eco: Sim"


def test_documented_list_reply_reaches_the_bot_with_its_row(zapi: ConnectorHarness) -> None:
    assert zapi.post(json=fixture_payload("doc_list_reply"), headers=TOKEN).status_code == 200
    delivered(zapi, 1)
    [message] = zapi.bot.messages
    assert message.text == "08:30"
    assert message.metadata["reply_id"] == "slot_0830"
    assert message.metadata["reference_id"] == "3EB0A1B2C3D4E5F6A7B8"


@pytest.mark.parametrize("name", ["audio", "image", "sticker", "location", "document"])
def test_media_without_caption_gets_the_polite_answer(zapi: ConnectorHarness, name: str) -> None:
    assert zapi.post(json=fixture_payload(name), headers=TOKEN).json()["status"] == "accepted"
    assert delivered(zapi, 1)[0].message == ONLY_TEXT_REPLY
    assert zapi.bot.messages == []


def test_caption_is_read_as_text(zapi: ConnectorHarness) -> None:
    zapi.post(json=fixture_payload("image_with_caption"), headers=TOKEN)
    assert delivered(zapi, 1)[0].message == "eco: quero marcar consulta"


@pytest.mark.parametrize(
    "name", ["from_me", "group", "newsletter", "broadcast", "notification", "reaction", "presence"]
)
def test_ignored_callbacks_get_no_answer(zapi: ConnectorHarness, name: str) -> None:
    answer = zapi.post(json=fixture_payload(name), headers=TOKEN)
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    assert _statuses(zapi.engine) == []  # nothing stored, so no turn can follow
    assert zapi.fakes.zapi.messages == [] and zapi.bot.messages == []


def test_connection_callbacks_are_recorded(zapi: ConnectorHarness, caplog) -> None:
    assert zapi.post(json=fixture_payload("doc_disconnected"), headers=TOKEN).json() == {
        "status": "recorded"
    }
    state = zapi.channel.connection
    assert state == {"state": "disconnected", "since": "2026-05-14T09:15:00+00:00"}
    assert "Device has been disconnected" in caplog.text
    zapi.post(json=fixture_payload("connected"), headers=TOKEN)
    assert zapi.channel.connection["state"] == "connected"
    assert zapi.fakes.zapi.messages == []


def test_status_callbacks_update_the_outbox(zapi: ConnectorHarness, engine: Engine) -> None:
    zapi.post(json=text("oi"), headers=TOKEN)
    [reply] = delivered(zapi, 1)
    wait_for(lambda: _outbox(engine)[0][0] == "sent")
    for status, expected in (("RECEIVED", "delivered"), ("READ", "read"), ("RECEIVED", "read")):
        body = fixture_payload("doc_message_status_read", status=status, ids=[reply.message_id])
        assert zapi.post(json=body, headers=TOKEN).json() == {"status": "recorded"}
        assert _outbox(engine) == [(expected, reply.message_id)]


def _outbox(engine: Engine) -> list[tuple[str, str | None]]:
    with session_scope(engine) as session:
        query = select(OutboxMessage.status, OutboxMessage.external_message_id)
        return [tuple(row) for row in session.execute(query.order_by(OutboxMessage.id))]


def test_menus_go_out_as_option_lists_and_flag_the_next_message(zapi: ConnectorHarness) -> None:
    zapi.post(json=text("menu"), headers=TOKEN)
    [menu] = delivered(zapi, 1)
    assert menu.kind == "option-list"
    assert menu.message == "Escolha o dia:\n\n1. terça, 01/12\n2. quarta"
    assert [o["title"] for o in menu.option_list["options"]] == ["terça, 01/12", "quarta"]
    zapi.post(json=text("2"), headers=TOKEN)
    delivered(zapi, 2)
    assert [m.metadata["options_offered"] for m in zapi.bot.messages] == [False, True]


def test_outage_queues_answers_and_delivers_them_in_order(zapi: ConnectorHarness) -> None:
    zapi.fakes.zapi.outage = Outage(status=503, remaining=None)
    for word in ("um", "dois", "três"):
        assert zapi.post(json=text(word), headers=TOKEN).status_code == 200
    wait_settled(zapi.engine, deliveries=False)
    # The oldest answer was tried (the others wait behind it: one phone, in order).
    wait_for(lambda: len(tried := _attempts(zapi.engine)) == 3 and tried[0] >= 1)
    assert zapi.fakes.zapi.messages == []
    zapi.fakes.zapi.outage = None
    replies = delivered(zapi, 3)
    assert [r.message for r in replies] == ["eco: um", "eco: dois", "eco: três"]


def test_restart_processes_what_was_stored(engine: Engine) -> None:
    left_behind = InboundEvent(
        InboundKind.MESSAGE, reason="text", phone=PHONE, message_id="3EB0LEFT", text="ainda aí?"
    )
    assert inbox.store_inbound("zapi", left_behind, engine) is not None
    harness = ConnectorHarness(engine, make_zapi())
    try:
        assert delivered(harness, 1)[0].message == "eco: ainda aí?"
        wait_for(lambda: _statuses(engine)[0] == ("in", "processed"))
    finally:
        harness.stop()


def test_typing_delay_is_configurable(engine: Engine) -> None:
    harness = ConnectorHarness(engine, make_zapi(), zapi_delay_typing=3)
    try:
        harness.post(json=text("oi"), headers=TOKEN)
        assert delivered(harness, 1)[0].delay_typing == 3
    finally:
        harness.stop()


def test_long_answers_are_split(zapi: ConnectorHarness) -> None:
    paragraph = "Orientações de preparo para o exame. " * 20
    zapi.post(json=text("\n\n".join([paragraph] * 3)), headers=TOKEN)
    parts = delivered(zapi, 2)
    assert all(len(part.message) <= 1200 for part in parts)


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    zapi: ConnectorHarness, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(text("x" * 2_000_000)).encode()  # 2 MB, with a valid token
    assert zapi.post(data=body, headers=TOKEN).status_code == 413
    chunks = (body[start : start + 16384] for start in range(0, len(body), 16384))
    assert zapi.post(data=chunks, headers=TOKEN).status_code == 413  # chunked: no length
    assert caplog.text.count("body over 65536 bytes") == 2
    small = json.dumps(text("oi")).encode()
    at_the_limit = small + b" " * (65536 - len(small))
    assert zapi.post(data=at_the_limit, headers=TOKEN).json() == {"status": "accepted"}
    wait_settled(zapi.engine)
    assert [m.text for m in zapi.bot.messages] == ["oi"]


@pytest.mark.parametrize(
    "token",
    ["tökén".encode(), b"\xff\xfe\x80", "x" * 4000, SANDBOX_ZAPI_INSTANCE_TOKEN + " é"],
    ids=["utf8", "not-utf8", "over-long", "token-and-more"],
)
def test_odd_tokens_are_refused_never_an_error(zapi: ConnectorHarness, token: object) -> None:
    assert zapi.post(json=text("oi"), headers={"z-api-token": token}).status_code == 401
    assert zapi.bot.messages == []


def test_odd_secret_path_segments_are_refused(engine: Engine) -> None:
    harness = ConnectorHarness(engine, make_zapi(secret="s3cr3t-path"))
    try:
        for segment in ("%C3%A9", "%FF%FE", "s3cr3t-path%00", "x" * 3000):
            assert harness.post(f"/webhook/{segment}", json=text("oi")).status_code == 401
    finally:
        harness.stop()


@pytest.mark.parametrize(
    "override",
    [
        {"momment": -1},
        {"momment": 1e20},
        {"momment": float("nan")},
        {"momment": float("inf")},
        {"momment": "amanhã"},
        {"momment": [2026]},
        {"text": {"message": "oi\x00"}},
        {"text": {"message": "oi \ud800"}},
        {"senderName": "\udfff"},
        {"phone": "5531988887777" * 5},
        {"phone": ["5531988887777"]},
        {"messageId": "3EB0" + "F" * 100},
    ],
    ids=repr,
)
def test_absurd_values_are_refused_with_a_log_line(
    zapi: ConnectorHarness, caplog: pytest.LogCaptureFixture, override: dict[str, Any]
) -> None:
    answer = zapi.post(data=json.dumps({**text("oi"), **override}), headers=TOKEN)
    assert answer.status_code == 400
    assert "zapi webhook rejected: malformed body" in caplog.text
    assert _statuses(zapi.engine) == []


def test_nesting_deeper_than_the_parser_goes_is_refused(zapi: ConnectorHarness) -> None:
    body = '{"type": "ReceivedCallback", "deep": ' + "[" * 30000 + "]" * 30000 + "}"
    assert zapi.post(data=body.encode(), headers=TOKEN).status_code == 400
