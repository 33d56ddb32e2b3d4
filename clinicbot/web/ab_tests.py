"""Staff API of the templates' A/B tests (clinicbot/messages/ab_tests.py).

- ``GET /staff/ab-tests``: every test.
- ``POST /staff/ab-tests``: ``{"name", "template_key", "variants": {"default": 1, "b": 1},
  "metric", "min_sample"?}`` (each variant a saved text: ``PUT /staff/templates/<key>`` with
  ``"variant"``): a draft.
- ``POST /staff/ab-tests/<id>/start``; ``GET /staff/ab-tests/<id>/report``;
  ``POST /staff/ab-tests/<id>/stop`` ``{"keep": "b"}`` (that variant becomes the template).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ABTest
from clinicbot.messages import ab_tests, store
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.web.staff_auth import for_staff
from clinicbot.web.templates import seeded_engine, staff_user


def _shown(test: ABTest) -> dict[str, Any]:
    return {
        "id": test.id,
        "name": test.key,
        "template_key": test.template_key,
        "variants": test.variants,
        "metric": test.metric,
        "min_sample": test.min_sample,
        "status": test.status,
        "winner": test.winner,
        "started_at": test.started_at.isoformat() if test.started_at else None,
        "ended_at": test.ended_at.isoformat() if test.ended_at else None,
    }


def ab_tests_blueprint() -> Blueprint:
    bp = Blueprint("staff_ab_tests", url_prefix="/staff/ab-tests", strict_slashes=False)

    @bp.get("/")
    @for_staff
    async def list_tests(request: Request) -> HTTPResponse:
        with session_scope(seeded_engine(request)) as session:
            tests = session.execute(select(ABTest).order_by(ABTest.id)).scalars()
            return json({"tests": [_shown(test) for test in tests]})

    @bp.post("/")
    @for_staff
    async def create(request: Request) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        variants = body.get("variants")
        if not isinstance(variants, dict) or not isinstance(body.get("name"), str):
            return json({"error": "name and variants ({name: weight}) are required"}, status=400)
        try:
            with session_scope(seeded_engine(request)) as session:
                test = ab_tests.create_test(
                    session,
                    name=body["name"],
                    template_key=str(body.get("template_key") or ""),
                    variants=variants,
                    metric=str(body.get("metric") or ""),
                    min_sample=int(body.get("min_sample") or ab_tests.DEFAULT_MIN_SAMPLE),
                    description=body.get("description"),
                )
                shown = _shown(test)
        except store.UnknownTemplate:
            return json({"error": "no such template"}, status=404)
        except (ab_tests.ABTestError, ValueError) as error:
            return json({"error": str(error)}, status=422)
        except IntegrityError:  # the name is unique per clinic
            return json({"error": "a test with this name already exists"}, status=409)
        return json(shown, status=201)

    @bp.post("/<test_id:int>/start")
    @for_staff
    async def start(request: Request, test_id: int) -> HTTPResponse:
        return _change(request, test_id, lambda session, test: ab_tests.start_test(session, test))

    @bp.post("/<test_id:int>/stop")
    @for_staff
    async def stop(request: Request, test_id: int) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        keep = str(body.get("keep") or "")
        editor = staff_user(request)
        return _change(
            request,
            test_id,
            lambda session, test: ab_tests.stop_test(session, test, keep=keep, edited_by=editor),
        )

    @bp.get("/<test_id:int>/report")
    @for_staff
    async def report(request: Request, test_id: int) -> HTTPResponse:
        with session_scope(seeded_engine(request)) as session:
            test = session.get(ABTest, test_id)
            if test is None:
                return json({"error": "no such test"}, status=404)
            return json(dataclasses.asdict(ab_tests.report(session, test)))

    return bp


def _change(request: Request, test_id: int, change: Any) -> HTTPResponse:
    """Apply ``change`` to the staff's clinic's test ``test_id`` (404 for another clinic's)."""
    try:
        with session_scope(seeded_engine(request)) as session:
            test = session.get(ABTest, test_id)
            if test is None:
                return json({"error": "no such test"}, status=404)
            change(session, test)
            shown = _shown(test)
    except ab_tests.ABTestError as error:
        return json({"error": str(error)}, status=409)
    TEMPLATE_CACHE.clear()
    return json(shown)
