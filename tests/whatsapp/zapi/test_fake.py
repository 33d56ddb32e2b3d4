"""The fake Z-API's HTTP contract: answers, errors and control endpoints."""

from __future__ import annotations

from typing import Any

import pytest
import requests

PHONE = "5531988887777"


def send(zapi_sandbox, method: str, body: Any, client_token: str = "") -> requests.Response:
    headers = {"Client-Token": client_token or zapi_sandbox.client_token}
    return requests.post(
        f"{zapi_sandbox.instance_url()}/{method}", json=body, headers=headers, timeout=5
    )


def messages(zapi_sandbox, **params: str | int) -> dict[str, Any]:
    response = requests.get(f"{zapi_sandbox.url}/__sandbox/zapi/messages", params=params, timeout=5)
    response.raise_for_status()
    return response.json()


def test_send_text_answers_like_z_api(zapi_sandbox) -> None:
    response = send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "oi"})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"zaapId", "messageId", "id"}
    assert answer["id"] == answer["messageId"]


def test_missing_client_token_header(zapi_sandbox) -> None:
    response = requests.post(
        f"{zapi_sandbox.instance_url()}/send-text", json={"phone": PHONE, "message": "oi"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "your client-token is not configured"}


def test_wrong_client_token_header(zapi_sandbox) -> None:
    response = send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "oi"}, "nope")
    assert response.status_code == 403
    assert response.json() == {"error": "Client-Token nope not allowed"}


@pytest.mark.parametrize(
    ("method", "body", "problem"),
    [
        ("send-text", {"message": "oi"}, "phone"),
        ("send-text", {"phone": PHONE}, "message"),
        ("send-text", {"phone": "+55 31 98888-7777", "message": "oi"}, "Invalid phone"),
        ("send-option-list", {"phone": PHONE, "message": "m", "optionList": {}}, "optionList"),
        ("send-button-list", {"phone": PHONE, "message": "m"}, "buttonList"),
        ("send-text", ["not", "an", "object"], "JSON object"),
    ],
)
def test_invalid_bodies_are_rejected(zapi_sandbox, method: str, body: Any, problem: str) -> None:
    response = send(zapi_sandbox, method, body)
    assert response.status_code == 400
    assert problem in response.json()["error"]
    assert zapi_sandbox.fake.messages == []


def test_lid_and_group_destinations_are_accepted(zapi_sandbox) -> None:
    for phone in ("123456789012345@lid", "120363012345678901-group"):
        assert send(zapi_sandbox, "send-text", {"phone": phone, "message": "oi"}).ok


def test_malformed_json_and_wrong_content_type(zapi_sandbox) -> None:
    url = f"{zapi_sandbox.instance_url()}/send-text"
    headers = {"Client-Token": zapi_sandbox.client_token}
    malformed = requests.post(
        url, data="{oops", headers={**headers, "Content-Type": "application/json"}, timeout=5
    )
    assert malformed.status_code == 400
    as_text = requests.post(url, data="phone=1", headers=headers, timeout=5)
    assert as_text.status_code == 415


def test_wrong_http_method_and_unknown_method(zapi_sandbox) -> None:
    headers = {"Client-Token": zapi_sandbox.client_token}
    base = zapi_sandbox.instance_url()
    assert requests.get(f"{base}/send-text", headers=headers, timeout=5).status_code == 405
    assert requests.post(f"{base}/send-audio", headers=headers, timeout=5).status_code == 404


def test_messages_are_listed_in_order_by_phone_and_after(zapi_sandbox) -> None:
    other = "5511999990000"
    for phone, text in [(PHONE, "um"), (other, "outro"), (PHONE, "dois")]:
        assert send(zapi_sandbox, "send-text", {"phone": phone, "message": text}).ok

    everything = messages(zapi_sandbox)
    assert [m["message"] for m in everything["messages"]] == ["um", "outro", "dois"]
    first_seq = everything["messages"][0]["seq"]
    assert everything["last"] == first_seq + 2

    mine = messages(zapi_sandbox, phone=PHONE)["messages"]
    assert [m["message"] for m in mine] == ["um", "dois"]
    assert mine[0]["kind"] == "text" and mine[0]["messageId"] and mine[0]["time"]

    later = messages(zapi_sandbox, phone=PHONE, after=first_seq)["messages"]
    assert [m["message"] for m in later] == ["dois"]


def test_reset_forgets_messages_but_keeps_counting(zapi_sandbox) -> None:
    send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "antes"})
    last = messages(zapi_sandbox)["last"]
    zapi_sandbox.control("reset", {})
    assert messages(zapi_sandbox)["messages"] == []
    send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "depois"})
    [after_reset] = messages(zapi_sandbox, after=last)["messages"]
    assert after_reset["seq"] == last + 1


def test_reset_ends_an_outage(zapi_sandbox) -> None:
    zapi_sandbox.control("outage", {"down": True})
    assert send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "oi"}).status_code == 500
    zapi_sandbox.control("reset", {})
    assert send(zapi_sandbox, "send-text", {"phone": PHONE, "message": "oi"}).ok


def test_outage_needs_a_mode(zapi_sandbox) -> None:
    response = requests.post(
        f"{zapi_sandbox.url}/__sandbox/zapi/outage", json={"status": 500}, timeout=5
    )
    assert response.status_code == 400
