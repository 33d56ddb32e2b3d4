"""The dashboard in headless Chromium: log in, then every figure on the page is the database's.

The service reads the hand-computed days of ``tests/support/dashboard_seed.py``; the page must
show exactly ``EXPECTED``, formatted as a Brazilian reader expects. Needs Debian's ``chromium``
(``/usr/bin/chromium``) and the ``playwright`` package; Playwright's own browser download is
never used. ``DASHBOARD_SCREENSHOT=docs/dashboard.png`` also saves the page's screenshot there.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dashboard_seed import EXPECTED, EXPECTED_REVIEW
from tests.web.dashboard_service import STAFF_TOKEN, dashboard_url

__all__ = ["dashboard_url"]  # the fixture
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=pt-BR",  # date inputs as in a Brazilian clinic
]
QUERY = "from=2031-03-10&to=2031-03-12"
STAGES = {
    "started": "Começou",
    "identified": "Identificou-se (CPF)",
    "slot_chosen": "Escolheu o horário",
    "booked": "Agendou",
}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


# What the page should print for a figure (pt-BR: decimal comma, dot between thousands).
def count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}".replace(".", ",") + "%"


def millis(value: float | None) -> str:
    return "—" if value is None else f"{count(math.floor(value + 0.5))} ms"


def day(iso: str) -> str:
    year, month, date = iso[:10].split("-")
    return f"{date}/{month}/{year}"


class Dashboard:
    def __init__(self, page: Any) -> None:
        self.page = page

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).inner_text()).strip()

    def rows(self, table: str) -> list[list[str]]:
        rows: list[list[str]] = self.page.eval_on_selector_all(
            f"#{table} tbody tr",
            "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))",
        )
        return rows

    def ready(self) -> None:
        self.page.wait_for_selector("body[data-state=ready]", timeout=20_000)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def dashboard(browser: Any, dashboard_url: str) -> Iterator[Dashboard]:
    """The dashboard of the seeded days, after logging in; fails on any console error."""
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, locale="pt-BR", accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{dashboard_url}/staff/dashboard?{QUERY}")
    page.wait_for_url("**/staff/login?next=*")  # no token yet: sent to log in
    page.fill("#token", "not-the-token")
    page.click("#login")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.inner_text("#login-error") == "Token inválido."
    page.fill("#token", STAFF_TOKEN)
    page.click("#login")
    page.wait_for_url(f"**/staff/dashboard?{QUERY}")
    view = Dashboard(page)
    view.ready()
    yield view
    assert [e for e in errors if "401" not in e] == []  # the wrong token's 401 is expected
    context.close()


def test_the_page_shows_the_databases_figures(dashboard: Dashboard) -> None:
    conversations, replies = EXPECTED["conversations"], EXPECTED["reply_times"]
    tiles = {
        "kpi-conversations": (
            count(conversations["started"]),
            f"{conversations['ended']} encerradas",
        ),
        "kpi-bookings": (count(EXPECTED["bookings"]), ""),
        "kpi-resolution": (
            percent(conversations["resolution_rate"]),
            f"{conversations['resolved_by_bot']} de {conversations['ended']} encerradas",
        ),
        "kpi-handoff": (
            percent(conversations["handoff_rate"]),
            f"{conversations['handed_off']} conversas",
        ),
        "kpi-reply-p50": (millis(replies["p50_ms"]), f"{replies['replies']} respostas"),
        "kpi-reply-p95": (millis(replies["p95_ms"]), ""),
    }
    for tile, (value, detail) in tiles.items():
        assert (dashboard.text(f"#{tile} .value"), dashboard.text(f"#{tile} .detail")) == (
            value,
            detail,
        ), tile

    assert dashboard.rows("table-daily") == [
        [day(d["day"]), count(d["conversations"]), count(d["bookings"])] for d in EXPECTED["daily"]
    ]
    assert dashboard.rows("table-funnel") == [
        [STAGES[s["stage"]], count(s["reached"]), count(s["dropped"]), percent(s["drop_rate"])]
        for s in EXPECTED["funnel"]
    ]
    assert dashboard.rows("table-intents") == [
        [i["intent"], count(i["messages"]), percent(i["share"])] for i in EXPECTED["intents"]
    ]
    assert dashboard.rows("table-api") == [
        [a["service"], count(a["calls"]), count(a["errors"]), percent(a["error_rate"]),
         count(a["client_errors"]), millis(a["p50_ms"]), millis(a["p95_ms"])]
        for a in EXPECTED["api"]
    ]  # fmt: skip
    reminders = EXPECTED["reminders"]
    for key in ("sent", "confirmed", "declined", "failed"):
        assert dashboard.text(f"#reminders-{key}") == count(reminders[key]), key
    waiting = EXPECTED["waiting_list"]
    for element, key in [("joined", "joined"), ("offers", "offers_sent"), ("filled", "filled"),
                         ("declined", "declined"), ("lapsed", "lapsed")]:  # fmt: skip
        assert dashboard.text(f"#waiting-{element}") == count(waiting[key]), key
    assert dashboard.rows("table-review") == [
        [
            f"{day(at)} {at[11:16]}",
            text,
            intent,
            predicted or "—",
            f"{confidence:.2f}".replace(".", ","),
        ]
        for at, text, intent, predicted, confidence in EXPECTED_REVIEW
    ]
    # every chart was drawn
    for chart in ("daily", "funnel", "intents", "reminders", "api"):
        assert dashboard.page.evaluate(
            f"Chart.getChart(document.getElementById('chart-{chart}')) !== undefined"
        ), chart

    screenshot = dashboard.page.screenshot(full_page=True)
    if target := os.environ.get("DASHBOARD_SCREENSHOT"):
        Path(target).write_bytes(screenshot)


def test_the_date_range_and_the_yaml_export(dashboard: Dashboard, tmp_path: Path) -> None:
    page = dashboard.page
    assert page.evaluate("sessionStorage.getItem('clinicbot.staffToken')") == STAFF_TOKEN

    page.fill("#from", "2031-03-12")
    page.click("#range button[type=submit]")
    dashboard.ready()
    assert page.url.endswith("from=2031-03-12&to=2031-03-12&below=0.6")
    assert dashboard.rows("table-daily") == [["12/03/2031", "1", "2"]]
    assert dashboard.text("#kpi-conversations .value") == "1"

    page.fill("#below", "0.3")
    page.click("#review-form button[type=submit]")
    dashboard.ready()
    assert [row[1] for row in dashboard.rows("table-review")] == ["blz", "[clique](aqui) vlw"]
    with page.expect_download() as download:
        page.click("#download-yaml")
    saved = tmp_path / "review.yml"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "nlu_review_2031-03-12_2031-03-12.yml"
    assert yaml.safe_load(saved.read_text()) == {
        "version": "3.1",
        "nlu": [{"intent": "agradecer", "examples": [{"text": "[clique] (aqui) vlw"}]}],
    }

    page.click("[data-days='7']")
    dashboard.ready()
    assert (page.input_value("#from"), page.input_value("#to")) == ("2031-03-06", "2031-03-12")

    page.reload()  # the token stays for the tab's life
    dashboard.ready()
    page.click("#logout")
    page.wait_for_url("**/staff/login")
    assert page.evaluate("sessionStorage.getItem('clinicbot.staffToken')") is None
    page.goto(page.url.replace("/staff/login", f"/staff/dashboard?{QUERY}"))
    page.wait_for_url("**/staff/login?next=*")
