"""Rasa's side of the NLG endpoint: the class ``endpoints.yml`` names, against a running clinic
service over HTTP, and its fallback to ``domain.yml`` when the service does not answer."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from clinicbot.db.migrate import upgrade_to_head
from clinicbot.rasa.nlg import TemplateServiceNLG
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import PROJECT_ROOT, read_settings
from clinicbot.web.app import create_app
from tests.support.stack import free_port

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade_to_head(url)
    settings = dataclasses.replace(
        read_settings(), database_url=url, staff_token="staff", scheduler_enabled=False
    )
    app = create_app(settings, name=f"nlg-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app) as server:
        yield server.url


def generator(url: str) -> NaturalLanguageGenerator:
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "nlg")
    assert config is not None and config.type == "clinicbot.rasa.nlg.TemplateServiceNLG"
    return NaturalLanguageGenerator.create(EndpointConfig(url, type=config.type), DOMAIN)


def tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events("5531977776666", [], slots=DOMAIN.slots)


def test_responses_come_from_the_clinic_service(service: str) -> None:
    nlg = generator(f"{service}/nlg")
    assert isinstance(nlg, TemplateServiceNLG)
    requests.put(
        f"{service}/staff/templates/utter_consulta_remarcada",
        json={"text": "Feito! Nova data: {dia}, {hora}."},
        headers={"Authorization": "Bearer staff"},
        timeout=10,
    ).raise_for_status()
    reply = asyncio.run(
        nlg.generate("utter_consulta_remarcada", tracker(), "zapi", dia="sexta", hora="9:00")
    )
    assert reply == {"text": "Feito! Nova data: sexta, 9:00."}
    with_buttons = asyncio.run(
        nlg.generate("utter_lembrete_remarcar_ou_cancelar", tracker(), "zapi", dia="a", hora="b")
    )
    assert [button["title"] for button in with_buttons["buttons"]] == ["Remarcar", "Cancelar"]


def test_without_the_service_domain_yml_answers() -> None:
    nlg = generator(f"http://127.0.0.1:{free_port()}/nlg")
    reply = asyncio.run(
        nlg.generate("utter_consulta_remarcada", tracker(), "zapi", dia="sexta", hora="9:00")
    )
    assert reply is not None
    assert reply["text"] == "Prontinho! ✅ Sua consulta foi remarcada para sexta, às 9:00."
