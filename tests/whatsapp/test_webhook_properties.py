"""Property-based tests of both webhooks over real HTTP (hypothesis).

Whatever arrives, carrying the right credentials so that parsing is what gets exercised (Z-API
callbacks with the instance token, Meta envelopes signed with the app secret), the connector
answers 200, 400 or 404 (an instance no clinic has), never a 5xx (Z-API and Meta retry a 5xx
forever), and nothing is logged at ERROR: no unhandled exception in the request nor in the
turns and deliveries that follow. Odd credentials always get 401. On PostgreSQL too, whose
columns refuse what SQLite stores silently (over-long ids, NUL characters).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from clinicbot.settings import SANDBOX_META_PHONE_NUMBER_ID, SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.whatsapp.meta import payloads as meta
from clinicbot.whatsapp.zapi import payloads as zapi
from tests.support.databases import BACKENDS, Databases
from tests.support.services import require_postgres
from tests.whatsapp.harness import (
    ZAPI_TOKEN,
    ConnectorHarness,
    make_meta,
    make_zapi,
    post_signed,
    wait_settled,
)

# Examples per property and backend: the module takes about a minute on a laptop.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=20),  # with surrogates
    st.sampled_from(["", " ", "\x00", "oi\x00", "\ud800", "a\udfffb", "😅", "x" * 5000]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and the infinities too
    st.sampled_from([0, -1, 1e20, 1778750100, 1778750100000]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
PHONES = st.one_of(
    st.from_regex(r"55\d{10,11}", fullmatch=True),
    st.sampled_from(["5531988887777", "553188887777", "120363019502650977@lid"]),
    st.text(min_size=1, max_size=80),
)
MESSAGE_IDS = st.one_of(
    st.from_regex(r"3EB0[0-9A-F]{16}", fullmatch=True), st.text(min_size=1, max_size=120)
)
TIMESTAMPS = st.one_of(st.integers(min_value=1_600_000_000, max_value=1_900_000_000), NUMBERS)


def odd_fields(draw: st.DrawFn, target: dict[str, Any], keys: list[str]) -> None:
    """Replace a few of ``keys`` in ``target`` with any JSON value at all."""
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        target[key] = draw(JSON)


ZAPI_CONTENT = st.one_of(
    st.builds(zapi.text_content, ODD_TEXT),
    st.builds(zapi.list_reply_content, ODD_TEXT, ODD_TEXT),
    st.builds(zapi.button_reply_content, ODD_TEXT, ODD_TEXT),
    st.builds(
        lambda caption: {"image": {"caption": caption, "imageUrl": "https://x/y.jpg"}}, ODD_TEXT
    ),
    st.just({"audio": {"audioUrl": "https://x/a.ogg"}}),
    st.builds(lambda emoji: {"reaction": {"value": emoji}}, ODD_TEXT),
)
ZAPI_TYPES = st.sampled_from(
    [
        "ReceivedCallback",
        "ReceivedCallBack",
        "MessageStatusCallback",
        "DeliveryCallback",
        "ConnectedCallback",
        "DisconnectedCallback",
        "PresenceChatCallback",
    ]
)
ZAPI_KEYS = [
    "type",
    "phone",
    "messageId",
    "momment",
    "moment",
    "text",
    "fromMe",
    "isGroup",
    "isEdit",
    "waitingMessage",
    "referenceMessageId",
    "listResponseMessage",
    "buttonsResponseMessage",
    "image",
    "status",
    "ids",
    "id",
    "error",
    "senderName",
    "instanceId",
]


@st.composite
def zapi_callbacks(draw: st.DrawFn) -> dict[str, Any]:
    """Z-API callbacks of every type, shaped like the real ones, with a few odd fields."""
    payload = zapi.received_callback(
        SANDBOX_ZAPI_INSTANCE_ID,
        draw(PHONES),
        draw(ZAPI_CONTENT),
        message_id=draw(MESSAGE_IDS),
        momment_ms=draw(st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000)),
        reference_message_id=draw(st.none() | MESSAGE_IDS),
    )
    payload["type"] = draw(ZAPI_TYPES)
    payload["isEdit"] = draw(st.booleans())
    payload["status"] = draw(st.sampled_from(["SENT", "RECEIVED", "READ", "PLAYED", "READ_BY_ME"]))
    payload["ids"] = [payload["messageId"]]
    odd_fields(draw, payload, ZAPI_KEYS)
    return payload


META_KINDS = ["text", "interactive", "button", "image", "audio", "reaction", "unsupported"]


@st.composite
def meta_messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(META_KINDS) | st.text(max_size=12))
    reply = {"id": draw(ODD_TEXT), "title": draw(ODD_TEXT)}
    contents = {
        "text": {"body": draw(ODD_TEXT)},
        "interactive": {"type": "list_reply", "list_reply": reply},
        "button": {"payload": reply["id"], "text": reply["title"]},
        "image": {"caption": draw(ODD_TEXT), "id": "1"},
    }
    item = meta.message(
        draw(PHONES),
        kind,
        contents.get(kind, {}),
        wamid=draw(MESSAGE_IDS),
        timestamp=draw(st.integers(min_value=1_600_000_000, max_value=1_900_000_000)),
        context_id=draw(st.none() | MESSAGE_IDS),
    )
    odd_fields(draw, item, ["from", "id", "timestamp", "type", "context", kind])
    return item


@st.composite
def meta_statuses(draw: st.DrawFn) -> dict[str, Any]:
    state = draw(st.sampled_from(["sent", "delivered", "read", "failed", "deleted"]))
    item = meta.status(draw(MESSAGE_IDS), draw(PHONES), state, errors=[{"code": 131047}])
    odd_fields(draw, item, ["id", "status", "timestamp", "errors"])
    return item


@st.composite
def meta_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Cloud API envelopes with messages and statuses, a few of their fields odd."""
    payload = meta.envelope(
        SANDBOX_META_PHONE_NUMBER_ID,
        messages=draw(st.none() | st.lists(meta_messages(), max_size=3)),
        statuses=draw(st.none() | st.lists(meta_statuses(), max_size=2)),
        contacts=[meta.contact("5531988887777", draw(ODD_TEXT))],
    )
    change = payload["entry"][0]["changes"][0]
    odd_fields(draw, change["value"], ["metadata", "messages", "statuses", "contacts"])
    odd_fields(draw, change, ["field", "value"])
    odd_fields(draw, payload["entry"][0], ["changes", "id"])
    odd_fields(draw, payload, ["object", "entry"])
    return payload


class ErrorLog(logging.Handler):
    """Records at ERROR or above from the webhook's way: Sanic's unhandled exceptions, failed
    background turns and deliveries, tasks that died (not other tests' leftover schedulers)."""

    SOURCES = ("sanic", "clinicbot.whatsapp", "asyncio")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self.SOURCES):
            self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="module", params=BACKENDS)
def module_engine(request: pytest.FixtureRequest, databases: Databases) -> Engine:
    if request.param == "postgresql":
        require_postgres()
    return databases.new_engine(request.param)


@pytest.fixture(scope="module")
def zapi_webhook(module_engine: Engine) -> Iterator[ConnectorHarness]:
    harness = ConnectorHarness(module_engine, make_zapi())
    yield harness
    harness.stop()


@pytest.fixture(scope="module")
def meta_webhook(module_engine: Engine) -> Iterator[ConnectorHarness]:
    harness = ConnectorHarness(module_engine, make_meta, meta_template_name="aviso_clinica")
    yield harness
    harness.stop()


def settled_without_errors(harness: ConnectorHarness, errors: ErrorLog) -> None:
    """After the examples: every turn and delivery they started has run, and nothing failed."""
    wait_settled(harness.engine)
    assert errors.lines == []


def test_zapi_callbacks_never_get_a_5xx(
    zapi_webhook: ConnectorHarness, error_log: ErrorLog
) -> None:
    @PROPERTY
    @given(zapi_callbacks())
    def example(payload: dict[str, Any]) -> None:
        answer = zapi_webhook.post(data=json.dumps(payload).encode(), headers=ZAPI_TOKEN)
        assert answer.status_code in (200, 400, 404), answer.text
        assert error_log.lines == []

    example()
    settled_without_errors(zapi_webhook, error_log)


def test_meta_envelopes_never_get_a_5xx(
    meta_webhook: ConnectorHarness, error_log: ErrorLog
) -> None:
    @PROPERTY
    @given(meta_envelopes())
    def example(payload: dict[str, Any]) -> None:
        answer = post_signed(meta_webhook, payload)
        assert answer.status_code in (200, 400), answer.text
        assert error_log.lines == []

    example()
    settled_without_errors(meta_webhook, error_log)


def test_any_bytes_at_all_never_get_a_5xx(
    zapi_webhook: ConnectorHarness, meta_webhook: ConnectorHarness, error_log: ErrorLog
) -> None:
    @PROPERTY
    @given(st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()))
    def example(body: bytes) -> None:
        assert zapi_webhook.post(data=body, headers=ZAPI_TOKEN).status_code in (200, 400, 404)
        assert post_signed(meta_webhook, body).status_code in (200, 400)
        assert error_log.lines == []

    example()
    settled_without_errors(zapi_webhook, error_log)


# What an HTTP client can put in a header value: no CR, LF or NUL, no leading whitespace.
HEADER_VALUES = st.binary(min_size=1, max_size=600).filter(
    lambda value: not value[:1].isspace() and not any(byte in value for byte in b"\r\n\x00")
)


def test_odd_credentials_always_get_a_401(
    zapi_webhook: ConnectorHarness, meta_webhook: ConnectorHarness, error_log: ErrorLog
) -> None:
    body = json.dumps(meta.envelope(SANDBOX_META_PHONE_NUMBER_ID, messages=[])).encode()

    @PROPERTY
    @given(HEADER_VALUES)
    def example(value: bytes) -> None:
        zapi_answer = zapi_webhook.post(data=body, headers={"z-api-token": value})
        meta_answer = meta_webhook.post(data=body, headers={"X-Hub-Signature-256": value})
        assert (zapi_answer.status_code, meta_answer.status_code) == (401, 401)
        assert error_log.lines == []

    example()
