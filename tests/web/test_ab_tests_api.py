"""An A/B test driven through the staff API over HTTP: variants saved, the test created and
started, each patient getting their variant from the NLG endpoint, the report, and stopping
with the winner kept as the template."""

from __future__ import annotations

from typing import Any

import requests

from clinicbot.messages.ab_tests import RunningTest, variant_for
from tests.web.test_templates import STAFF, nlg, nlg_request, service, start  # noqa: F401

KEY = "utter_saudacao"
VARIANT_B = "Oi! Sou a assistente da Clínica Bem Viver 💙 Quer marcar uma consulta?"


def call(method: str, url: str, **body: Any) -> requests.Response:
    return requests.request(method, url, json=body or None, headers=STAFF, timeout=10)


def test_an_ab_test_over_the_staff_api(service: str) -> None:  # noqa: F811
    tests_url = f"{service}/staff/ab-tests"
    refused = call(
        "POST",
        tests_url,
        name="saudacao",
        template_key=KEY,
        variants={"default": 1, "b": 1},
        metric="booking",
    )
    assert refused.status_code == 422 and "no active text" in refused.json()["error"]
    saved = call("PUT", f"{service}/staff/templates/{KEY}", text=VARIANT_B, variant="b")
    assert saved.status_code == 200, saved.text

    created = call(
        "POST",
        tests_url,
        name="saudacao",
        template_key=KEY,
        variants={"default": 1, "b": 1},
        metric="booking",
        min_sample=50,
    )
    assert created.status_code == 201, created.text
    test_id = created.json()["id"]
    assert call("POST", f"{tests_url}/{test_id}/start").json()["status"] == "running"
    assert call("POST", f"{tests_url}/{test_id}/start").status_code == 409

    running = RunningTest(test_id, KEY, {"default": 1.0, "b": 1.0})
    for number in range(6):
        phone = f"55319000000{number:02d}"
        body = nlg_request(KEY)
        body["tracker"]["sender_id"] = phone
        text = nlg(service, body)["text"]
        expected = variant_for(running, phone)
        assert (text == VARIANT_B) if expected == "b" else text.startswith("Olá! 👋")

    report = call("GET", f"{tests_url}/{test_id}/report").json()
    assert report["metric"] == "booking" and report["control"] == "default"
    assert sum(variant["assigned"] for variant in report["variants"]) == 6
    assert report["winner"] is None and report["verdict"].startswith("not enough data")
    [listed] = call("GET", tests_url).json()["tests"]
    assert listed["status"] == "running"

    stopped = call("POST", f"{tests_url}/{test_id}/stop", keep="b")
    assert stopped.status_code == 200 and stopped.json()["winner"] == "b"
    assert nlg(service, nlg_request(KEY))["text"] == VARIANT_B
    history = call("GET", f"{service}/staff/templates/{KEY}/history").json()["versions"]
    assert history[0]["edited_by"].endswith("(A/B test saudacao)")
