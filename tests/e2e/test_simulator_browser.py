"""A person books a consultation on the simulator page, in headless Chromium.

The page posts real Z-API callbacks to the rasa webhook and renders what the fake Z-API
delivered, option lists included (tapped in the list sheet, as on a phone). Needs Debian's
``chromium`` (``/usr/bin/chromium``) and the ``playwright`` package; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


class ChatPage:
    def __init__(self, page) -> None:
        self.page = page

    def incoming(self) -> int:
        return self.page.locator(".bubble.in").count()

    def wait_for_answer(self, before: int, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while self.incoming() <= before:
            assert time.monotonic() < deadline, "no answer on the page"
            self.page.wait_for_timeout(100)
        self.page.wait_for_timeout(800)  # the rest of a multi-message answer
        bubbles = self.page.locator(".bubble.in")
        return "\n".join(bubbles.nth(i).inner_text() for i in range(before, bubbles.count()))

    def say(self, text: str) -> str:
        before = self.incoming()
        self.page.fill("#text", text)
        self.page.click("#send")
        return self.wait_for_answer(before)

    def pick(self, index: int) -> str:
        """Open the last option list and tap its ``index``-th option (0-based)."""
        before = self.incoming()
        self.page.locator(".list-button").last.click()
        self.page.locator("#sheet-options button").nth(index).click()
        return self.wait_for_answer(before)


@pytest.fixture
def chat(stack: Stack) -> Iterator[ChatPage]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{stack.ports.service}/simulator")
        page.fill("#phone", f"55319{random.randint(10000, 99999)}7777")
        page.press("#phone", "Tab")
        page.fill("#name", "Rita Navegador")
        page.press("#name", "Tab")
        yield ChatPage(page)
        browser.close()


def test_full_booking_on_the_simulator_page(
    chat: ChatPage, agenda: GestaoDSClient, sandbox_url: str
) -> None:
    cpf = CPF().generate()
    agenda.register_patient(
        name="Rita Navegador Souza",
        cpf=cpf,
        email="rita.nav@example.org",
        birth_date=date(1990, 5, 17),
    )

    assert "assistente" in chat.say("oi, bom dia").lower()
    assert "cpf" in chat.say("quero marcar uma consulta").lower()
    assert "nascimento" in chat.say(cpf)  # another phone than the one registered
    days = chat.say("17/05/1990")
    assert chat.page.locator(".list-button").count() >= 1, days
    times = chat.pick(1)
    assert chat.page.locator(".list-button").count() >= 2, times
    question = chat.pick(0)
    assert "sim" in question.lower()
    assert "consulta está marcada" in chat.say("sim")

    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    assert [a for a in state["appointments"] if a["cpf"] == cpf and not a["cancelado"]]
