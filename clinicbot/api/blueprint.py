"""``/api/v1`` on the clinic service: every API blueprint, the OpenAPI document and its page."""

from __future__ import annotations

import json
from pathlib import Path

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, html
from sanic.response import json as json_response

from clinicbot.api.appointments import appointments_blueprint
from clinicbot.api.metrics import metrics_blueprint
from clinicbot.api.openapi import openapi_document
from clinicbot.api.patients import patients_blueprint
from clinicbot.api.problems import install_problem_handlers
from clinicbot.api.waitlist import waitlist_blueprint
from clinicbot.api.webhooks import webhooks_blueprint

PREFIX = "/api/v1"
DOCS_PAGE = Path(__file__).parent / "static" / "docs.html"


def _docs_blueprint() -> Blueprint:
    bp = Blueprint("api_docs", url_prefix=PREFIX)
    # "</" cannot end the embedding <script> early once escaped.
    spec = json.dumps(openapi_document()).replace("</", "<\\/")
    page = DOCS_PAGE.read_text(encoding="utf-8").replace("{{spec}}", spec)

    @bp.get("/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response(openapi_document())

    @bp.get("/docs")
    async def docs(request: Request) -> HTTPResponse:
        return html(page)

    return bp


def install_api(app: Sanic) -> None:
    """Mount the public API on ``app``."""
    for blueprint in (
        appointments_blueprint(),
        waitlist_blueprint(),
        patients_blueprint(),
        metrics_blueprint(),
        webhooks_blueprint(),
        _docs_blueprint(),
    ):
        app.blueprint(blueprint)
    install_problem_handlers(app, PREFIX)
