"""The staff page of templates in headless Chromium, against a running clinic service: sign in
with the staff token, edit with a live preview, save, see the history and roll back.

Needs Debian's ``chromium`` and the ``playwright`` package (Playwright's own browser download is
never used), like tests/e2e/test_simulator_browser.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.web.test_templates import STAFF, nlg, nlg_request, start  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture
def page(start: Callable[..., str]) -> Iterator[tuple[Any, str]]:  # noqa: F811
    url = start()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser.new_page(), url
        browser.close()


def test_edit_preview_save_and_roll_back(page: tuple[Any, str]) -> None:
    tab, url = page
    expect = sync_api.expect
    tab.goto(f"{url}/staff/page/templates")
    tab.fill("#token", "wrong")
    tab.click("#login button")
    expect(tab.locator("#login-error")).to_contain_text("Token inválido")
    tab.fill("#token", "staff-test-token")
    tab.click("#login button")
    assert tab.evaluate("sessionStorage.getItem('clinicbot.staffToken')") == "staff-test-token"

    tab.fill("#filter", "utter_consulta_marcada")
    tab.locator("#list button", has_text="utter_consulta_marcada").first.click()
    expect(tab.locator("#key")).to_have_text("utter_consulta_marcada")
    expect(tab.locator("#variables button")).to_have_text(["{nome}", "{dia}", "{hora}"])

    tab.fill("#text", "Tudo certo, {nome}! Consulta {dia} às {hora} com {medico}.")
    expect(tab.locator("#problems")).to_have_text("unknown variable {medico}")
    expect(tab.locator("#save")).to_be_disabled()

    tab.fill("#text", "Tudo certo, ")
    tab.locator("#variables button", has_text="{nome}").click()
    tab.type("#text", "! Consulta ")
    tab.locator("#variables button", has_text="{dia}").click()
    expect(tab.locator("#preview")).to_have_text("Tudo certo, Marina! Consulta terça-feira, 01/12")
    tab.type("#text", " às {hora}.")
    expect(tab.locator("#save")).to_be_enabled()
    tab.click("#save")
    expect(tab.locator("#saved")).to_contain_text("versão 2")
    reply = nlg(url, nlg_request("utter_consulta_marcada", nome="Ana", dia="sexta", hora="9:00"))
    assert reply["text"] == "Tudo certo, Ana! Consulta sexta às 9:00."

    expect(tab.locator("#history tr")).to_have_count(2)
    tab.locator("#history tr", has_text="Prontinho").get_by_role("button").click()
    expect(tab.locator("#saved")).to_contain_text("Versão 1 restaurada como versão 3")
    listed = requests.get(f"{url}/staff/templates/utter_consulta_marcada", headers=STAFF, timeout=5)
    assert listed.json()["text"].startswith("Prontinho, {nome}!")
