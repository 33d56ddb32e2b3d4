"""Every external API call, recorded in ``api_call_logs`` (personal data already masked) and
counted in Prometheus (:mod:`clinicbot.monitoring`).

GestãoDS calls (actions and scheduler) arrive through the client's ``on_call``; Z-API and Meta
calls, made on the event loop of the rasa process, through :func:`record_in_background`.
Rows older than ``API_LOG_RETENTION_DAYS`` are deleted by the scheduler (:func:`purge_old`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiCallLog
from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.monitoring import count_api_call
from clinicbot.whatsapp.db_thread import run_db

logger = logging.getLogger(__name__)

_pending: set[asyncio.Future[Any]] = set()


def record_api_call(record: ApiCallRecord, engine: Engine | None = None) -> None:
    """Count and store one call. A logging failure must never break the patient's
    conversation."""
    count_api_call(record)
    try:
        with session_scope(engine) as session:
            session.add(
                ApiCallLog(
                    service=record.service,
                    method=record.method,
                    path=record.path[:500],
                    status=record.status,
                    latency_ms=round(record.latency_ms),
                    error=record.error,
                    cpf_masked=record.cpf_masked,
                    created_at=record.started_at,
                )
            )
    except SQLAlchemyError:
        logger.exception("could not record an API call in api_call_logs")


def record_in_background(record: ApiCallRecord) -> None:
    """:func:`record_api_call` on the WhatsApp database thread, without waiting for it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (a script): write now
        record_api_call(record)
        return
    task = loop.create_task(run_db(record_api_call, record))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def purge_old(engine: Engine | None, days: int, now: datetime) -> int:
    """Delete ``api_call_logs`` rows older than ``days``; how many."""
    if days < 1:
        raise ValueError("API_LOG_RETENTION_DAYS must keep at least one day")
    with session_scope(engine) as session:
        result = session.execute(
            delete(ApiCallLog).where(ApiCallLog.created_at < now - timedelta(days=days))
        )
        return int(result.rowcount)
