"""Assembly of the clinic service: one Sanic app, one blueprint per concern."""

from __future__ import annotations

import aiohttp
from sanic import Sanic

from clinicbot.api.blueprint import install_api
from clinicbot.integrations.webhooks import install_webhook_worker
from clinicbot.services.scheduler import install_scheduler
from clinicbot.settings import Settings, get_settings
from clinicbot.web.ab_tests import ab_tests_blueprint
from clinicbot.web.dashboard import dashboard_blueprint
from clinicbot.web.health import health_blueprint
from clinicbot.web.integrations_staff import integrations_staff_blueprint
from clinicbot.web.metrics import install_http_metrics, metrics_blueprint
from clinicbot.web.simulator import simulator_blueprint
from clinicbot.web.staff import staff_blueprint
from clinicbot.web.templates import nlg_blueprint, staff_templates_blueprint


def create_app(
    settings: Settings | None = None,
    *,
    name: str = "clinicbot-service",
    simulator: bool | None = None,
) -> Sanic:
    """The clinic service. ``simulator`` defaults to on exactly when the Z-API sandbox is in use.

    ``app.ctx``: ``settings``, ``simulator_enabled``, and ``http`` (an ``aiohttp.ClientSession``
    shared by outgoing calls, open while the server runs). Sanic 21.12 wants unique app names per
    process: tests that build several apps pass their own ``name``.
    """
    settings = settings or get_settings()
    app = Sanic(name)
    app.ctx.settings = settings
    app.ctx.simulator_enabled = settings.uses_sandbox_zapi if simulator is None else simulator

    install_http_metrics(app)
    app.blueprint(health_blueprint())
    if settings.monitoring_enabled:
        app.blueprint(metrics_blueprint())
    app.blueprint(staff_blueprint())
    app.blueprint(dashboard_blueprint())
    app.blueprint(integrations_staff_blueprint())
    install_api(app)  # /api/v1 (public API: keys, scopes, idempotency)
    app.blueprint(staff_templates_blueprint())
    app.blueprint(nlg_blueprint())
    app.blueprint(ab_tests_blueprint())
    if app.ctx.simulator_enabled:
        app.blueprint(simulator_blueprint())
    install_scheduler(app)  # reminders, waiting-list offers, availability poll
    install_webhook_worker(app)  # CRM events to their subscribers

    @app.before_server_start
    async def open_http(app: Sanic, _loop: object) -> None:
        app.ctx.http = aiohttp.ClientSession()

    @app.after_server_stop
    async def close_http(app: Sanic, _loop: object) -> None:
        await app.ctx.http.close()

    return app
