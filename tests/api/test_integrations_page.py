"""The staff page for keys and webhooks, in a real browser (Debian's chromium via Playwright):
the token goes to sessionStorage, a key is created and shown once, then revoked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import STAFF_TOKEN, Api

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


def test_staff_manage_keys_and_subscriptions_on_the_page(api: Api, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the page is the same on every database")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{api.url}/staff/integrations")
        page.fill("#token", STAFF_TOKEN)
        page.click("#login button")
        page.fill("#key-name", "CRM")
        page.check("input[name=scope][value=write]")
        page.click("#new-key button")
        page.wait_for_selector("#key-once:not([hidden])")
        key = page.text_content("#key-once").split(": ", 1)[1]
        assert key.startswith("cbk_")
        assert page.evaluate("sessionStorage.getItem('clinicbot.staffToken')") == STAFF_TOKEN
        page.wait_for_selector("#keys tr")
        assert "read, write" in page.text_content("#keys")
        assert api.get("/api/v1/waiting-list", {"Authorization": f"Bearer {key}"}).ok

        page.fill("#sub-url", "https://crm.example.org/hooks")
        page.click("#new-subscription button")
        page.wait_for_selector("#secret-once:not([hidden])")
        assert "whsec_" in page.text_content("#secret-once")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#keys button")
        page.wait_for_function("document.querySelector('#keys').textContent.includes('revogada')")
        browser.close()
    assert api.get("/api/v1/waiting-list", {"Authorization": f"Bearer {key}"}).status_code == 401
