"""Every external API call, recorded in ``api_call_logs`` (personal data already masked)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiCallLog
from clinicbot.gestaods.models import ApiCallRecord

logger = logging.getLogger(__name__)


def record_api_call(record: ApiCallRecord) -> None:
    """Store one call. A logging failure must never break the patient's conversation."""
    try:
        with session_scope() as session:
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
