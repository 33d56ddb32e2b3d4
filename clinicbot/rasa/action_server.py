"""``python -m clinicbot.rasa.action_server``: the custom actions, reachable by rasa alone.

``rasa run actions`` binds 0.0.0.0 and answers anyone: a stranger could run
``action_cancelar_consulta`` with forged slots. This runs rasa_sdk's own app on
``ACTION_SERVER_HOST`` (loopback unless told otherwise) and refuses, with 401, every request
that does not carry the shared secret rasa's ``action_endpoint`` sends as ``?token=``
(``ACTION_SERVER_TOKEN``; :class:`clinicbot.stack.Stack` generates one per run and writes it
into rasa's endpoints). ``/health`` stays open for the process supervisor.

The actions call GestãoDS and the database synchronously. rasa_sdk would await them on its one
event loop, so one hung GestãoDS read would freeze every other patient's action (and
``/health``): here each action runs in a worker thread instead. ``ACTION_SERVER_WORKERS``
processes may share the port (default 1: Sanic's extra worker processes outlive a killed main
process and keep the port, so the supervisor could not restart it; scale out with more
action servers instead).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
from typing import Any

from rasa_sdk import endpoint
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from clinicbot.logs import configure_logging
from clinicbot.monitoring import add_metrics_route
from clinicbot.production import UnsafeConfiguration, require_safe_environment
from clinicbot.settings import get_settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.senders import split_sender_id

logger = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health"})
METRICS_PATH = "/metrics"


class ThreadedActionExecutor(ActionExecutor):
    """Runs each action call in a worker thread, with an event loop of its own, acting for the
    clinic of the conversation (its sender id, :mod:`clinicbot.tenancy.senders`)."""

    async def run(self, action_call: dict[str, Any]) -> dict[str, Any] | None:
        parent_run = super().run
        clinic_id, _ = split_sender_id(str(action_call.get("sender_id") or ""))
        with acting_for(clinic_id):  # asyncio.to_thread copies the context
            return await asyncio.to_thread(lambda: asyncio.run(parent_run(action_call)))


def create_action_app(token: str, package: str = "actions", *, metrics: bool = False) -> Sanic:
    """rasa_sdk's app for ``package``, refusing requests without ``token``; ``metrics`` adds
    an open ``GET /metrics`` (the process listens on loopback; nothing personal in it)."""
    # rasa_sdk builds its executor inside create_app, from this module attribute.
    endpoint.ActionExecutor = ThreadedActionExecutor
    app = endpoint.create_app(package, cors_origins=None)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    open_paths = OPEN_PATHS | {METRICS_PATH} if metrics else OPEN_PATHS
    if metrics:
        add_metrics_route(app, METRICS_PATH)

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in open_paths:
            return None
        supplied = request.args.get("token", "")
        if token and hmac.compare_digest(supplied.encode(), token.encode()):
            return None
        logger.warning("action server: refused %s %s (bad token)", request.method, request.path)
        return json({"error": "unauthorized"}, status=401)

    return app


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Custom actions for rasa (token required)")
    parser.add_argument("--host", default=settings.action_server_host)
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    configure_logging(settings)
    require_safe_environment()
    if not settings.action_server_token:
        raise UnsafeConfiguration(
            "ACTION_SERVER_TOKEN is not set: the action server answers only rasa, which sends "
            "that token (make run generates one)"
        )
    app = create_action_app(
        settings.action_server_token, args.actions, metrics=settings.monitoring_enabled
    )
    app.run(
        host=args.host,
        port=args.port,
        workers=settings.action_server_workers,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
