"""ZapiClient against the fake Z-API over real HTTP."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Awaitable

import pytest

from clinicbot.settings import read_settings
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError
from clinicbot.whatsapp.zapi.messages import ZapiButton, ZapiOption

PHONE = "5531988887777"


def send_oi(client: ZapiClient) -> Awaitable[str]:
    return client.send_text(PHONE, "oi")


def test_send_text_returns_message_id_and_is_delivered(zapi_sandbox) -> None:
    message_id = zapi_sandbox.run(lambda c: c.send_text(PHONE, "Consulta confirmada.", 2))
    [sent] = zapi_sandbox.fake.messages
    assert sent.message_id == message_id
    assert (sent.phone, sent.kind, sent.message) == (PHONE, "text", "Consulta confirmada.")
    assert sent.delay_typing == 2


def test_send_text_rejects_out_of_range_typing_delay(zapi_sandbox) -> None:
    with pytest.raises(ValueError):
        zapi_sandbox.run(lambda c: c.send_text(PHONE, "oi", 30))


def test_option_and_button_lists_are_recorded(zapi_sandbox) -> None:
    async def send_both(client: ZapiClient) -> tuple[str, str]:
        option_id = await client.send_option_list(
            PHONE,
            "Escolha um horário",
            "14/05",
            "Ver horários",
            [ZapiOption("slot_0830", "08:30", "Dra. Exemplo"), ZapiOption("slot_0900", "09:00")],
        )
        button_id = await client.send_button_list(
            PHONE, "Confirma?", [ZapiButton("yes", "Sim"), ZapiButton("no", "Não")]
        )
        return option_id, button_id

    option_id, button_id = zapi_sandbox.run(send_both)
    option_list, button_list = zapi_sandbox.fake.messages
    assert (option_list.message_id, option_list.kind) == (option_id, "option-list")
    assert option_list.option_list == {
        "title": "14/05",
        "buttonLabel": "Ver horários",
        "options": [
            {"id": "slot_0830", "title": "08:30", "description": "Dra. Exemplo"},
            {"id": "slot_0900", "title": "09:00", "description": ""},
        ],
    }
    assert (button_list.message_id, button_list.kind) == (button_id, "button-list")
    assert button_list.button_list == {
        "buttons": [{"id": "yes", "label": "Sim"}, {"id": "no", "label": "Não"}]
    }


def test_missing_client_token_is_a_retryable_400(zapi_sandbox) -> None:
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi, client_token="")
    assert caught.value.status == 400
    assert "your client-token is not configured" in caught.value.body
    assert caught.value.retryable
    assert zapi_sandbox.fake.messages == []


def test_wrong_client_token_is_a_final_403_without_leaking_it(zapi_sandbox) -> None:
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi, client_token="secret-wrong")
    assert caught.value.status == 403
    assert not caught.value.retryable
    assert "Client-Token *** not allowed" in caught.value.body
    assert "secret-wrong" not in str(caught.value)


def test_wrong_instance_is_not_found(zapi_sandbox) -> None:
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi, instance_url=zapi_sandbox.instance_url(token="other-token"))
    assert caught.value.status == 404
    assert "Instance not found" in caught.value.body
    assert not caught.value.retryable


def test_counted_outage_fails_retryably_then_recovers(zapi_sandbox) -> None:
    zapi_sandbox.control("outage", {"status": 500, "count": 2})

    async def three_attempts(client: ZapiClient) -> list[object]:
        outcomes: list[object] = []
        for attempt in range(3):
            try:
                outcomes.append(await client.send_text(PHONE, f"tentativa {attempt}"))
            except ZapiError as error:
                outcomes.append(error)
        return outcomes

    first, second, third = zapi_sandbox.run(three_attempts)
    assert isinstance(first, ZapiError) and first.status == 500 and first.retryable
    assert isinstance(second, ZapiError) and second.retryable
    assert isinstance(third, str)
    assert [m.message for m in zapi_sandbox.fake.messages] == ["tentativa 2"]


def test_intermittent_client_token_error_is_retryable(zapi_sandbox) -> None:
    zapi_sandbox.control("outage", {"status": 400, "count": 1})
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi)
    assert caught.value.status == 400
    assert caught.value.retryable


def test_down_until_lifted(zapi_sandbox) -> None:
    zapi_sandbox.control("outage", {"down": True})
    for _ in range(2):
        with pytest.raises(ZapiError) as caught:
            zapi_sandbox.run(send_oi)
        assert caught.value.retryable
    zapi_sandbox.control("outage", {"down": False})
    zapi_sandbox.run(send_oi)
    assert len(zapi_sandbox.fake.messages) == 1


def test_timeout_is_retryable_without_status(zapi_sandbox) -> None:
    zapi_sandbox.control("outage", {"count": 1, "timeout": True, "delay": 1.0})
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi, timeout=0.3)
    assert caught.value.status is None
    assert caught.value.retryable


def test_connection_refused_is_retryable(zapi_sandbox) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ZapiError) as caught:
        zapi_sandbox.run(send_oi, instance_url=f"http://127.0.0.1:{port}/instances/x/token/y")
    assert caught.value.status is None
    assert caught.value.retryable


def test_status_of_the_instance(zapi_sandbox) -> None:
    status = zapi_sandbox.run(lambda c: c.status())
    assert status == {"connected": True, "error": "", "smartphoneConnected": True}


def test_from_settings_uses_the_instance_url_and_client_token() -> None:
    settings = dataclasses.replace(
        read_settings(),
        zapi_base_url="https://api.z-api.io/",
        zapi_instance_id="ID1",
        zapi_instance_token="TOK1",
        zapi_client_token="CT1",
    )
    client = ZapiClient.from_settings(settings)
    assert client._instance_url == "https://api.z-api.io/instances/ID1/token/TOK1"
    assert client._client_token == "CT1"


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (None, "", True),
        (500, "", True),
        (503, "", True),
        (400, '{"error":"your client-token is not configured"}', True),
        (400, '{"error":"Field phone is required"}', False),
        (403, '{"error":"Client-Token *** not allowed"}', False),
        (404, '{"error":"Instance not found"}', False),
        (200, "not json", False),
    ],
)
def test_which_errors_are_retryable(status: int | None, body: str, retryable: bool) -> None:
    assert ZapiError("x", status=status, body=body).retryable is retryable
