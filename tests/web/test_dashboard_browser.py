"""The dashboard in headless Chromium: log in, then every figure on the page is the database's.

The service reads the hand-computed days of ``tests/support/dashboard_seed.py``; the page must
show exactly ``EXPECTED``, formatted as a Brazilian reader expects. Needs Debian's ``chromium``
(``/usr/bin/chromium``) and the ``playwright`` package; Playwright's own browser download is
never used. A second service shows a busy fortnight (``tests/support/dashboard_demo.py``), checked
against plain queries; ``DASHBOARD_SCREENSHOT=docs/dashboard.png`` saves its screenshot there.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy
import pytest
import yaml
from sqlalchemy import text

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from tests.support.dashboard_demo import FIRST as DEMO_FIRST
from tests.support.dashboard_demo import LAST as DEMO_LAST
from tests.support.dashboard_demo import TZ as DEMO_TZ
from tests.support.dashboard_demo import seed_demo
from tests.support.dashboard_seed import EXPECTED, EXPECTED_REVIEW
from tests.web.dashboard_service import STAFF_TOKEN, dashboard_url, start_service

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


@pytest.fixture(scope="module")
def busy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A service over the busy fortnight: (its URL, its database URL)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('busy') / 'busy.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed_demo(session)
    engine.dispose()
    server = start_service(url)
    yield server.url, url
    server.stop()


def _database_figures(url: str) -> dict[str, Any]:
    """The fortnight's figures straight from the tables (every row is inside the range)."""
    engine = make_engine(url)
    with engine.connect() as db:
        per_day = dict(
            db.execute(
                text("SELECT started_on, count(*) FROM conversations GROUP BY started_on")
            ).all()
        )
        conversations = db.execute(
            text(
                "SELECT count(*), sum(ended_at IS NOT NULL), sum(resolved_by_bot) "
                "FROM conversations"
            )
        ).one()
        handed_off = db.execute(
            text("SELECT count(DISTINCT conversation_id) FROM conversation_dashboard")
        ).scalar_one()
        booked = [
            datetime.fromisoformat(value).replace(tzinfo=timezone.utc).astimezone(DEMO_TZ).date()
            for value in db.execute(text("SELECT created_at FROM appointments")).scalars()
        ]
        latencies = (
            db.execute(
                text("SELECT latency_ms FROM conversation_messages WHERE latency_ms IS NOT NULL")
            )
            .scalars()
            .all()
        )
        intents = Counter(
            db.execute(
                text("SELECT intent FROM conversation_messages WHERE direction = 'in'")
            ).scalars()
        )
        reminders = db.execute(
            text(
                "SELECT sum(status = 'sent'), sum(reply = 'yes'), sum(reply = 'no'), "
                "sum(status = 'failed') FROM notifications WHERE kind = 'reminder'"
            )
        ).one()
        api = {
            service: db.execute(
                text("SELECT latency_ms, status FROM api_call_logs WHERE service = :s"),
                {"s": service},
            ).all()
            for service in ("gestaods", "zapi")
        }
    engine.dispose()
    bookings = Counter(str(day) for day in booked)
    return {
        "daily": [[day(str(d)), count(per_day.get(str(d), 0)), count(bookings.get(str(d), 0))]
                  for d in (DEMO_FIRST + timedelta(n) for n in range(14))],
        "conversations": count(conversations[0]),
        "bookings": count(len(booked)),
        "resolution": percent(conversations[2] / conversations[1]),
        "handoff": percent(handed_off / conversations[0]),
        "p50": millis(float(numpy.percentile(latencies, 50))),
        "p95": millis(float(numpy.percentile(latencies, 95))),
        "intents": [[name, count(n), percent(n / sum(intents.values()))]
                    for name, n in sorted(intents.items(), key=lambda i: (-i[1], i[0]))[:10]],
        "reminders": [count(n) for n in reminders],
        "api": [
            [service, count(len(rows)),
             count(sum(1 for _, s in rows if s is None or s >= 500)),
             percent(sum(1 for _, s in rows if s is None or s >= 500) / len(rows)),
             count(sum(1 for _, s in rows if s is not None and 400 <= s < 500)),
             millis(float(numpy.percentile([ms for ms, _ in rows], 50))),
             millis(float(numpy.percentile([ms for ms, _ in rows], 95)))]
            for service, rows in api.items()
        ],
    }  # fmt: skip


def test_a_busy_fortnight_shows_what_the_database_holds(
    browser: Any, busy_url: tuple[str, str]
) -> None:
    service, database = busy_url
    expected = _database_figures(database)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="pt-BR")
    page = context.new_page()
    page.goto(f"{service}/staff/login")
    page.evaluate(f"sessionStorage.setItem('clinicbot.staffToken', '{STAFF_TOKEN}')")
    page.goto(f"{service}/staff/dashboard?from={DEMO_FIRST}&to={DEMO_LAST}")
    view = Dashboard(page)
    view.ready()

    assert view.rows("table-daily") == expected["daily"]
    assert view.text("#kpi-conversations .value") == expected["conversations"]
    assert view.text("#kpi-bookings .value") == expected["bookings"]
    assert view.text("#kpi-resolution .value") == expected["resolution"]
    assert view.text("#kpi-handoff .value") == expected["handoff"]
    assert view.text("#kpi-reply-p50 .value") == expected["p50"]
    assert view.text("#kpi-reply-p95 .value") == expected["p95"]
    assert view.rows("table-intents") == expected["intents"]
    assert [
        view.text(f"#reminders-{key}") for key in ("sent", "confirmed", "declined", "failed")
    ] == expected["reminders"]
    assert view.rows("table-api") == expected["api"]

    screenshot = page.screenshot(full_page=True)
    if target := os.environ.get("DASHBOARD_SCREENSHOT"):
        Path(target).write_bytes(screenshot)
    context.close()
