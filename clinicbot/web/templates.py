"""Templates over HTTP: Rasa's NLG endpoint, and the staff API and page that edit them.

- ``POST /nlg``: Rasa's NLG callback (clinicbot/messages/nlg.py). Internal: nginx does not
  expose it, and in production it answers only requests made on loopback and not proxied.
- ``GET /staff/templates``: every template (key, category, variables, text, version, default).
- ``GET /staff/templates/<key>``: one, with its variants.
- ``PUT /staff/templates/<key>``: ``{"text", "buttons"?, "variant"?, "active"?}``, validated
  (422 with the problems), saved as a new version.
- ``POST /staff/templates/<key>/preview``: ``{"text", "values"?}``: the problems and the text
  filled with sample values, as the patient would read it.
- ``GET /staff/templates/<key>/history`` and ``POST /staff/templates/<key>/rollback``
  (``{"version", "variant"?}``).
- ``GET /staff/page/templates``: the staff page over that API.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import MessageTemplate, MessageTemplateVersion
from clinicbot.messages import nlg, store
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.messages.defaults import DefaultTemplate, default_templates
from clinicbot.messages.placeholders import fill_leniently, problems
from clinicbot.web.database import service_engine
from clinicbot.web.staff_auth import for_staff, staff_clinic_id

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")

# What the preview fills a variable with when staff give no value.
SAMPLE_VALUES: dict[str, str] = {
    "nome": "Marina",
    "dia": "terça-feira, 01/12",
    "hora": "09:00",
    "minutos": "30",
    "posicao": "2",
    "preferencia": " para terça, 01/12 de manhã",
    "consulta": "terça-feira, 01/12, às 09:00",
    "consultas": "• terça-feira, 01/12, às 09:00",
    "periodo": "de manhã",
    "dia_semana": "terça",
    "data": "08/12",
    "horario_recepcao": "seg. a sex., 8h às 18h",
    "convenio": "Unimed",
}


def _from_loopback(request: Request) -> bool:
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:
        return False


def nlg_blueprint() -> Blueprint:
    bp = Blueprint("nlg")

    @bp.post("/nlg")
    async def generate(request: Request) -> HTTPResponse:
        if request.app.ctx.settings.production and not _from_loopback(request):
            return json({"error": "forbidden"}, status=403)
        body = request.json
        if not isinstance(body, dict):
            return json({"error": "expected an NLG request"}, status=400)
        try:
            with session_scope(service_engine(request.app)) as session:
                return json(nlg.generate(session, body))
        except nlg.BadRequest as error:
            return json({"error": str(error)}, status=400)
        except store.UnknownTemplate as error:
            logger.error("NLG asked for an unknown response %s", error)
            return json({"error": f"unknown response {error}"}, status=404)
        except SQLAlchemyError as error:
            logger.error("NLG: database unavailable: %s", type(error).__name__)
            return json({"error": "the database is unavailable"}, status=503)

    return bp


def _summary(template: DefaultTemplate, row: MessageTemplate | None) -> dict[str, Any]:
    return {
        "key": template.key,
        "category": template.category,
        "variables": list(template.variables),
        "text": row.text if row is not None else template.text,
        "buttons": (row.buttons if row is not None else list(template.buttons)) or [],
        "active": row.active if row is not None else True,
        "version": row.version if row is not None else 1,
        "updated_by": row.updated_by if row is not None else None,
        "updated_at": row.updated_at.isoformat() if row is not None else None,
        "default_text": template.text,
        "edited": row is not None and row.text != template.text,
    }


def _version(row: MessageTemplateVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "text": row.text,
        "buttons": row.buttons or [],
        "active": row.active,
        "edited_by": row.edited_by,
        "created_at": row.created_at.isoformat(),
    }


def _rows(session: Session) -> dict[tuple[str, str], MessageTemplate]:
    rows = session.execute(
        select(MessageTemplate).where(MessageTemplate.locale == store.LOCALE)
    ).scalars()
    return {(row.key, row.variant): row for row in rows}


def seeded_engine(request: Request) -> Engine:
    """The service's engine, the staff's clinic's templates seeded once per app (the scheduler
    may be off)."""
    engine = service_engine(request.app)
    seeded: set[int] = getattr(request.app.ctx, "templates_seeded", set())
    clinic_id = staff_clinic_id()
    if clinic_id not in seeded:
        with session_scope(engine) as session:
            store.seed(session, clinic_id=clinic_id)
        request.app.ctx.templates_seeded = seeded | {clinic_id}
    return engine


def staff_user(request: Request) -> str:
    return str(request.headers.get("x-staff-user") or "staff")[:100]


def staff_templates_blueprint() -> Blueprint:
    bp = Blueprint("staff_templates", url_prefix="/staff")

    @bp.get("/page/templates")
    async def page(request: Request) -> HTTPResponse:
        # The page itself holds no data: it asks for the token and calls the API with it.
        return await file(STATIC_DIR / "templates.html", mime_type="text/html; charset=utf-8")

    @bp.get("/page/templates.js")
    async def script(request: Request) -> HTTPResponse:
        return await file(STATIC_DIR / "templates.js", mime_type="text/javascript")

    @bp.get("/templates")
    @for_staff
    async def list_templates(request: Request) -> HTTPResponse:
        with session_scope(seeded_engine(request)) as session:
            rows = _rows(session)
            found = [
                _summary(template, rows.get((key, store.DEFAULT_VARIANT)))
                for key, template in sorted(default_templates().items())
            ]
        return json({"templates": found})

    @bp.get("/templates/<key>")
    @for_staff
    async def show(request: Request, key: str) -> HTTPResponse:
        template = default_templates().get(key)
        if template is None:
            return json({"error": "no such template"}, status=404)
        with session_scope(seeded_engine(request)) as session:
            rows = _rows(session)
            shown = _summary(template, rows.get((key, store.DEFAULT_VARIANT)))
            shown["variants"] = {
                variant: _summary(template, row)
                for (row_key, variant), row in sorted(rows.items())
                if row_key == key and variant != store.DEFAULT_VARIANT
            }
            shown["sample_values"] = {
                name: SAMPLE_VALUES.get(name, f"<{name}>") for name in template.variables
            }
        return json(shown)

    @bp.put("/templates/<key>")
    @for_staff
    async def edit(request: Request, key: str) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        text = body.get("text")
        if not isinstance(text, str):
            return json({"error": "text is required"}, status=400)
        buttons = body.get("buttons")
        variant = str(body.get("variant") or store.DEFAULT_VARIANT)
        try:
            with session_scope(seeded_engine(request)) as session:
                row = store.save(
                    session,
                    key,
                    store.Edit(text, buttons, bool(body.get("active", True))),
                    edited_by=staff_user(request),
                    variant=variant,
                )
                saved = {"key": key, "variant": variant, "version": row.version, "text": row.text}
        except store.UnknownTemplate:
            return json({"error": "no such template"}, status=404)
        except store.TemplateError as error:
            return json({"error": "template refused", "problems": error.problems}, status=422)
        TEMPLATE_CACHE.clear()
        logger.info("template %s (%s) saved as version %s", key, variant, saved["version"])
        return json(saved)

    @bp.post("/templates/<key>/preview")
    @for_staff
    async def preview(request: Request, key: str) -> HTTPResponse:
        template = default_templates().get(key)
        if template is None:
            return json({"error": "no such template"}, status=404)
        body = request.json if isinstance(request.json, dict) else {}
        text = str(body.get("text") or "")
        given = body.get("values")
        given = given if isinstance(given, dict) else {}
        values = {name: SAMPLE_VALUES.get(name, f"<{name}>") for name in template.variables}
        values.update({str(name): str(value) for name, value in given.items()})
        return json(
            {
                "problems": problems(text, template.variables),
                "preview": fill_leniently(text, values),
                "variables": list(template.variables),
            }
        )

    @bp.get("/templates/<key>/history")
    @for_staff
    async def history(request: Request, key: str) -> HTTPResponse:
        if key not in default_templates():
            return json({"error": "no such template"}, status=404)
        variant = request.args.get("variant") or store.DEFAULT_VARIANT
        with session_scope(seeded_engine(request)) as session:
            versions = [_version(row) for row in store.history(session, key, variant)]
        return json({"key": key, "variant": variant, "versions": versions})

    @bp.post("/templates/<key>/rollback")
    @for_staff
    async def rollback(request: Request, key: str) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        version = body.get("version")
        if not isinstance(version, int):
            return json({"error": "version (a number) is required"}, status=400)
        variant = str(body.get("variant") or store.DEFAULT_VARIANT)
        try:
            with session_scope(seeded_engine(request)) as session:
                row = store.rollback(
                    session, key, version, edited_by=staff_user(request), variant=variant
                )
                saved = {"key": key, "variant": variant, "version": row.version, "text": row.text}
        except store.UnknownTemplate as error:
            return json({"error": str(error)}, status=404)
        except store.TemplateError as error:
            return json({"error": "template refused", "problems": error.problems}, status=422)
        TEMPLATE_CACHE.clear()
        return json(saved)

    return bp
