"""The one staff check of every staff endpoint (``Authorization: Bearer <token>``).

Each clinic's staff have their own token: ``STAFF_TOKEN`` is the default clinic's, every other
clinic's is the one ``clinics add`` printed (only its digest is stored). :func:`for_staff`
maps the token to its clinic (:func:`~clinicbot.tenancy.registry.clinic_for_staff_token`) and
runs the handler acting for that clinic (:func:`~clinicbot.tenancy.context.acting_for`), so
every session the handler opens sees and writes that clinic's rows only
(:mod:`clinicbot.tenancy.scope`). Work moved off the event loop keeps the clinic only through
:func:`asyncio.to_thread` (it copies the context; ``run_in_executor`` does not).

:func:`for_operator` is for views of the whole installation (the detailed health: the
database, rasa, the backups): only the default clinic's staff, who run the deployment, with
``STAFF_TOKEN``. It is checked without the database, so the detailed health still answers, and
says what is wrong, while the database is down.

Staff pages keep the token in the browser's ``sessionStorage`` under ``clinicbot.staffToken``
(``static/staff/staff-auth.js``) and send it as that header; the pages themselves hold no data.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, json
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.db.engine import session_scope
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for, current_clinic_id
from clinicbot.tenancy.registry import (
    ClinicConfig,
    clinic_for_staff_token,
    default_clinic,
    get_clinic,
)
from clinicbot.web.database import service_engine

logger = logging.getLogger(__name__)

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def _bearer_token(request: Request) -> str:
    return str(request.headers.get("authorization", "")).removeprefix("Bearer ").strip()


def _staff_clinic(request: Request) -> ClinicConfig | None:
    """The active clinic whose staff token the request carries, or None. With no token
    configured nobody gets in (production refuses to start without ``STAFF_TOKEN``)."""
    settings: Settings = request.app.ctx.settings
    with session_scope(service_engine(request.app)) as session:
        clinic_id = clinic_for_staff_token(session, _bearer_token(request), settings)
        return None if clinic_id is None else get_clinic(session, clinic_id, settings)


def _operator(request: Request) -> ClinicConfig | None:
    """The default clinic when the request carries ``STAFF_TOKEN`` (no database read)."""
    settings: Settings = request.app.ctx.settings
    given = _bearer_token(request)
    if settings.staff_token and hmac.compare_digest(given, settings.staff_token):
        return default_clinic(settings)
    return None


def _guard(handler: Handler, *, operator: bool) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            clinic = _operator(request) if operator else _staff_clinic(request)
        except SQLAlchemyError as error:
            logger.error("staff check: database unavailable: %s", type(error).__name__)
            return json({"error": "the database is unavailable; try again"}, status=503)
        if clinic is None:
            return json({"error": "unauthorized"}, status=401)
        request.ctx.staff_clinic = clinic
        with acting_for(clinic.id):
            return await handler(request, *args, **kwargs)

    return guarded


def for_staff(handler: Handler) -> Handler:
    """401 unless the request carries an active clinic's staff token; the handler then acts
    for that clinic (:func:`staff_clinic_id`)."""
    return _guard(handler, operator=False)


def for_operator(handler: Handler) -> Handler:
    """:func:`for_staff` for the default clinic's staff only (any other token: 401)."""
    return _guard(handler, operator=True)


def staff_clinic(request: Request) -> ClinicConfig:
    """The clinic whose staff made ``request`` (inside a :func:`for_staff` handler)."""
    clinic: ClinicConfig = request.ctx.staff_clinic
    return clinic


def staff_settings(request: Request) -> Settings:
    """The service's settings with the staff's clinic's time zone, services and secrets."""
    return staff_clinic(request).settings(request.app.ctx.settings)


def staff_clinic_id() -> int:
    """The clinic the staff handler running now acts for."""
    clinic_id = current_clinic_id()
    if clinic_id is None:
        raise RuntimeError("not inside a for_staff handler")
    return clinic_id
