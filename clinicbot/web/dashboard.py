"""The staff's analytics dashboard: a page, its login page and the JSON they read.

- ``GET /staff/login``: asks for the staff token, keeps it in ``sessionStorage``
- ``GET /staff/dashboard``: the page (charts from the vendored Chart.js, nothing fetched
  from elsewhere); ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` picks the days
- ``GET /staff/api/session``: 200 and the staff's clinic when the bearer token is a clinic's
  staff token
- ``GET /staff/api/dashboard?from&to``: every figure (:mod:`clinicbot.services.analytics`)
- ``GET /staff/api/dashboard/review?from&to&below``: messages the NLU was unsure about
- ``GET /staff/api/dashboard/review.yml?from&to&below``: the same as a Rasa NLU file

The pages are static and hold no data; every ``/staff/api`` route wants a clinic's staff token
(``Authorization: Bearer``, :mod:`clinicbot.web.staff_auth`) and shows that clinic's figures
only, in its time zone; without a token nothing is shown, in production as anywhere.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, text
from sanic.response import html as html_response
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.db.engine import session_scope
from clinicbot.services.analytics import BadPeriod, Period, dashboard_report
from clinicbot.services.clinic import load_clinic
from clinicbot.services.nlu_review import (
    DEFAULT_BELOW,
    MAX_MESSAGES,
    messages_to_review,
    rasa_nlu_yaml,
)
from clinicbot.settings import Settings
from clinicbot.web.database import service_engine
from clinicbot.web.staff_auth import for_staff, staff_clinic, staff_clinic_id, staff_settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# The pages show patients' messages: only this origin's scripts, styles and requests.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
T = TypeVar("T")


class BadQuery(ValueError):
    """A query parameter the dashboard cannot use."""


def _period(request: Request, settings: Settings) -> Period:
    try:
        return Period.parse(
            request.args.get("from"), request.args.get("to"), settings.clinic_today()
        )
    except BadPeriod as error:
        raise BadQuery(str(error)) from error


def _below(request: Request) -> float:
    raw = request.args.get("below")
    try:
        below = float(raw) if raw else DEFAULT_BELOW
    except ValueError as error:
        raise BadQuery("below must be a number") from error
    if not 0 < below <= 1:
        raise BadQuery("below must be between 0 and 1")
    return below


def _page(name: str) -> str:
    """A static page named after the default clinic; the dashboard then shows the name of the
    staff's own clinic (``/staff/api/session``)."""
    page = (STATIC_DIR / "staff" / name).read_text(encoding="utf-8")
    return page.replace("{{clinic_name}}", html.escape(load_clinic().name))


async def _answer(request: Request, build: Callable[[Settings], T]) -> T | HTTPResponse:
    """``build(settings)`` (the staff's clinic's) off the event loop, acting for that clinic,
    or the JSON error staff see instead."""
    try:
        return await asyncio.to_thread(build, staff_settings(request))
    except BadQuery as error:
        return json({"error": str(error)}, status=400)
    except SQLAlchemyError as error:
        logger.error("dashboard: database unavailable: %s", type(error).__name__)
        return json({"error": "the database is unavailable; try again"}, status=503)


def dashboard_blueprint() -> Blueprint:
    bp = Blueprint("dashboard", url_prefix="/staff")
    bp.static("/static", str(STATIC_DIR / "staff"), name="staff_static")
    bp.static("/vendor", str(STATIC_DIR / "vendor"), name="staff_vendor")
    login_page, dashboard_page = _page("login.html"), _page("dashboard.html")

    @bp.get("/login")
    async def login(request: Request) -> HTTPResponse:
        return html_response(login_page, headers=PAGE_HEADERS)

    @bp.get("/dashboard")
    async def dashboard(request: Request) -> HTTPResponse:
        return html_response(dashboard_page, headers=PAGE_HEADERS)

    @bp.get("/api/session")
    @for_staff
    async def session(request: Request) -> HTTPResponse:
        clinic = staff_clinic(request)
        name = load_clinic().name if clinic.is_default else clinic.name  # clinic.yml's own
        shown = {"id": clinic.id, "slug": clinic.slug, "name": name}
        return json({"ok": True, "clinic": shown})

    @bp.get("/api/dashboard")
    @for_staff
    async def figures(request: Request) -> HTTPResponse:
        engine = service_engine(request.app)

        def build(settings: Settings) -> dict[str, Any]:
            period = _period(request, settings)
            with session_scope(engine) as db:
                return dashboard_report(
                    db, period, tz=settings.clinic_tz, clinic_id=staff_clinic_id()
                ).to_json()

        report = await _answer(request, build)
        return report if isinstance(report, HTTPResponse) else json(report)

    @bp.get("/api/dashboard/review")
    @for_staff
    async def review(request: Request) -> HTTPResponse:
        engine = service_engine(request.app)

        def build(settings: Settings) -> dict[str, Any]:
            period, below = _period(request, settings), _below(request)
            with session_scope(engine) as db:
                messages = messages_to_review(
                    db, period, tz=settings.clinic_tz, below=below, clinic_id=staff_clinic_id()
                )
            return {
                "below": below,
                "messages": [message.to_json(settings.clinic_tz) for message in messages],
                "truncated": len(messages) == MAX_MESSAGES,
            }

        answer = await _answer(request, build)
        return answer if isinstance(answer, HTTPResponse) else json(answer)

    @bp.get("/api/dashboard/review.yml")
    @for_staff
    async def review_yaml(request: Request) -> HTTPResponse:
        engine = service_engine(request.app)

        def build(settings: Settings) -> tuple[Period, str]:
            period, below = _period(request, settings), _below(request)
            tz = settings.clinic_tz
            with session_scope(engine) as db:
                messages = messages_to_review(
                    db, period, tz=tz, below=below, clinic_id=staff_clinic_id()
                )
            truncated = len(messages) == MAX_MESSAGES
            return period, rasa_nlu_yaml(messages, period, below=below, tz=tz, truncated=truncated)

        answer = await _answer(request, build)
        if isinstance(answer, HTTPResponse):
            return answer
        period, document = answer
        filename = f"nlu_review_{period.start}_{period.end}.yml"
        return text(
            document,
            content_type="application/yaml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return bp
