"""Templates over real HTTP and a real database: Rasa's NLG endpoint and the staff API.

The NLG requests are what Rasa 3.6's callback sends (``response``, ``arguments``, ``tracker``,
``channel``); the answers must be what Rasa sends on: ``text`` and the template's own buttons.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from clinicbot.db.migrate import upgrade_to_head
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import read_settings
from clinicbot.web.app import create_app

STAFF = {"Authorization": "Bearer staff-test-token"}
PHONE = "5531977776666"


def nlg_request(response: str, **arguments: Any) -> dict[str, Any]:
    return {
        "response": response,
        "arguments": arguments,
        "tracker": {"sender_id": PHONE, "slots": {"cpf": None, "paciente_nome": None}},
        "channel": {"name": "zapi"},
    }


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., str]]:
    servers: list[BackgroundServer] = []
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade_to_head(url)

    def make(**overrides: Any) -> str:
        settings = dataclasses.replace(
            read_settings(),
            database_url=url,
            staff_token="staff-test-token",
            scheduler_enabled=False,
            **overrides,
        )
        app = create_app(settings, name=f"tpl-{uuid.uuid4().hex[:8]}", simulator=False)
        servers.append(BackgroundServer(app).start())
        return servers[-1].url

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def service(start: Callable[..., str]) -> str:
    return start()


def nlg(url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{url}/nlg", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    reply: dict[str, Any] = answer.json()
    return reply


def test_nlg_answers_the_defaults_with_arguments_and_buttons(service: str) -> None:
    reply = nlg(service, nlg_request("utter_saudacao"))
    assert reply["text"].startswith("Olá! 👋 Sou a assistente virtual")
    assert "buttons" not in reply
    filled = nlg(
        service, nlg_request("utter_consulta_remarcada", dia="sexta-feira, 04/12", hora="10:00")
    )
    assert filled == {
        "text": "Prontinho! ✅ Sua consulta foi remarcada para sexta-feira, 04/12, às 10:00."
    }
    # The template's own buttons; an action's buttons are added by Rasa and not echoed here.
    menu = nlg(
        service,
        nlg_request(
            "utter_lembrete_remarcar_ou_cancelar",
            dia="sexta-feira, 04/12",
            hora="10:00",
            buttons=[{"title": "x", "payload": "/y"}],
        ),
    )
    assert menu["buttons"] == [
        {"title": "Remarcar", "payload": "/reagendar_consulta"},
        {"title": "Cancelar", "payload": "/cancelar_consulta"},
    ]
    assert requests.post(f"{service}/nlg", json={"arguments": {}}, timeout=5).status_code == 400
    assert (
        requests.post(f"{service}/nlg", json=nlg_request("utter_nada"), timeout=5).status_code
        == 404
    )


def test_an_edit_reaches_the_next_answer_and_history_and_rollback_work(service: str) -> None:
    assert requests.get(f"{service}/staff/templates", timeout=5).status_code == 401
    listed = requests.get(f"{service}/staff/templates", headers=STAFF, timeout=10).json()
    keys = {template["key"]: template for template in listed["templates"]}
    assert keys["utter_consulta_marcada"]["variables"] == ["nome", "dia", "hora"]
    assert keys["notification.reminder"]["category"] == "proactive"
    assert keys["utter_faq_valores"]["category"] == "faq"

    new = "Oi! Aqui é a Clínica Bem Viver 💙 Em que posso ajudar?"
    saved = requests.put(
        f"{service}/staff/templates/utter_saudacao", json={"text": new}, headers=STAFF, timeout=10
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    assert nlg(service, nlg_request("utter_saudacao"))["text"] == new

    history = requests.get(
        f"{service}/staff/templates/utter_saudacao/history", headers=STAFF, timeout=10
    ).json()["versions"]
    assert [version["version"] for version in history] == [2, 1]
    back = requests.post(
        f"{service}/staff/templates/utter_saudacao/rollback",
        json={"version": 1},
        headers=STAFF,
        timeout=10,
    )
    assert back.status_code == 200 and back.json()["version"] == 3
    assert nlg(service, nlg_request("utter_saudacao"))["text"].startswith("Olá! 👋")


@pytest.mark.parametrize(
    "text",
    [
        "Prontinho, {nome}! Consulta {dia} às {hora} com {medico}.",  # undeclared
        "Prontinho, {nome.upper}! {dia} {hora}",  # not a plain variable
        "Prontinho {nome! {dia} {hora}",  # a stray brace
        "   ",
    ],
)
def test_a_template_with_an_unknown_variable_is_refused(service: str, text: str) -> None:
    refused = requests.put(
        f"{service}/staff/templates/utter_consulta_marcada",
        json={"text": text},
        headers=STAFF,
        timeout=10,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["problems"]
    reply = nlg(
        service, nlg_request("utter_consulta_marcada", nome="Ana", dia="sexta", hora="9:00")
    )
    assert reply["text"].startswith("Prontinho, Ana! ✅")


def test_a_missing_value_sends_the_default_text(service: str) -> None:
    """``{nome}`` is declared by utter_consulta_marcada, but an action may not pass it."""
    edited = "Tudo certo, {nome}: {dia}, {hora}."
    assert (
        requests.put(
            f"{service}/staff/templates/utter_consulta_marcada",
            json={"text": edited},
            headers=STAFF,
            timeout=10,
        ).status_code
        == 200
    )
    reply = nlg(service, nlg_request("utter_consulta_marcada", dia="sexta", hora="9:00"))
    assert reply["text"].startswith("Prontinho") and "Tudo certo" not in reply["text"]


def test_buttons_keep_their_actions(service: str) -> None:
    url = f"{service}/staff/templates/utter_lembrete_remarcar_ou_cancelar"
    text = "Sua consulta de {dia}, às {hora} está mantida. Remarcar ou cancelar?"
    renamed = [
        {"title": "Mudar o dia", "payload": "/reagendar_consulta"},
        {"title": "Desmarcar", "payload": "/cancelar_consulta"},
    ]
    ok = requests.put(url, json={"text": text, "buttons": renamed}, headers=STAFF, timeout=10)
    assert ok.status_code == 200, ok.text
    reply = nlg(service, nlg_request("utter_lembrete_remarcar_ou_cancelar", dia="sexta", hora="9h"))
    assert reply["buttons"] == renamed
    hijacked = [{"title": "Mudar", "payload": "/falar_com_atendente"}, renamed[1]]
    refused = requests.put(url, json={"text": text, "buttons": hijacked}, headers=STAFF, timeout=10)
    assert refused.status_code == 422


def test_preview_fills_sample_values_and_lists_problems(service: str) -> None:
    answer = requests.post(
        f"{service}/staff/templates/utter_consulta_marcada/preview",
        json={"text": "Oi {nome}, {dia} às {hora} com {medico}"},
        headers=STAFF,
        timeout=10,
    ).json()
    assert answer["preview"] == "Oi Marina, terça-feira, 01/12 às 09:00 com {medico}"
    assert answer["problems"] == ["unknown variable {medico}"]
    assert answer["variables"] == ["nome", "dia", "hora"]


def test_an_edit_in_another_process_reaches_this_one_within_the_ttl(
    start: Callable[..., str],
) -> None:
    """Two clinic services on one database: the second sees the first's edit (revision check)."""
    first, second = start(), start()
    assert nlg(second, nlg_request("utter_despedida"))["text"].startswith("Até logo!")
    requests.put(
        f"{first}/staff/templates/utter_despedida",
        json={"text": "Tchau! 👋"},
        headers=STAFF,
        timeout=10,
    ).raise_for_status()
    TEMPLATE_CACHE.ttl, ttl = 0.0, TEMPLATE_CACHE.ttl  # both servers share this process's cache
    try:
        assert nlg(second, nlg_request("utter_despedida"))["text"] == "Tchau! 👋"
    finally:
        TEMPLATE_CACHE.ttl = ttl


def test_in_production_the_nlg_endpoint_refuses_proxied_requests(
    start: Callable[..., str],
) -> None:
    url = start(production=True)
    proxied = requests.post(
        f"{url}/nlg",
        json=nlg_request("utter_saudacao"),
        headers={"X-Forwarded-For": "1.2.3.4"},
        timeout=5,
    )
    assert proxied.status_code == 403
    assert nlg(url, nlg_request("utter_saudacao"))["text"].startswith("Olá!")
