"""``python -m clinicbot.web [--host H] [--port N]``: run the clinic service."""

from __future__ import annotations

import argparse
import logging

from clinicbot.logs import configure_logging
from clinicbot.production import require_safe_environment
from clinicbot.settings import get_settings
from clinicbot.web.app import create_app

logger = logging.getLogger("clinicbot.web")


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Clinic service (health, metrics, simulator)")
    parser.add_argument("--host", default=settings.clinic_service_host)
    parser.add_argument("--port", type=int, default=settings.clinic_service_port)
    args = parser.parse_args(argv)
    require_safe_environment()
    # On our package logger, not the root one: Sanic has its own handlers and would log twice.
    configure_logging(settings, "clinicbot")
    app = create_app(settings)
    if app.ctx.simulator_enabled:
        logger.info("simulator on http://%s:%d/simulator", args.host, args.port)
    app.run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
