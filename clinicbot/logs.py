"""Logging of every process: ``LOG_LEVEL`` (default INFO) and ``LOG_FORMAT`` (``text`` or
``json``: one JSON object per line, for a log collector).

Messages are already masked where they are written (:mod:`clinicbot.pii`); the JSON form adds
nothing personal: time, level, logger, message and, when there is one, the exception.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from clinicbot.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO), ``level``, ``logger``, ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, logger_name: str = "") -> logging.Logger:
    """Send ``logger_name``'s records (the root's by default) to stderr as configured.

    A process whose framework has its own handlers on the root (Sanic, Rasa) passes
    ``"clinicbot"`` (the project's package logger) instead.
    """
    logger = logging.getLogger(logger_name)
    for handler in list(logger.handlers):
        if getattr(handler, "clinicbot", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings))
    handler.clinicbot = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(settings.log_level)
    return logger


def rasa_logging_config() -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``rasa run --logging-config-file``: JSON lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["json"]},
    }
