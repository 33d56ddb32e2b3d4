"""The conditions that raise an alert, each checked from what every process leaves behind.

A check returns a :class:`Finding` while its condition holds and None once it does not; the
evaluator (:mod:`clinicbot.services.alerts.evaluator`) turns these into alerts opened and
resolved once. Checks read the database (what the rasa and action-server processes record:
dead letters, API calls, inbound messages, backup runs) or ask the provider (Z-API's
``/status``), never another process's memory. Summaries are what the staff read (pt-BR) and
never hold a patient's phone, CPF or name.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.models import ApiCallLog, ConversationMessage, OutboxMessage
from clinicbot.services.alerts.business_hours import open_time_between
from clinicbot.services.backups.records import last_backup
from clinicbot.settings import Settings
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError

ZAPI_DISCONNECTED = "zapi_disconnected"
GESTAODS_FAILING = "gestaods_failing"
DEAD_LETTERS = "dead_letters"
PATIENT_SILENCE = "patient_silence"
BACKUP = "backup"

# What the staff read when a condition clears.
RESOLVED_TEXT = {
    ZAPI_DISCONNECTED: "o WhatsApp (Z-API) está conectado de novo.",
    GESTAODS_FAILING: "a agenda (GestãoDS) voltou a responder normalmente.",
    DEAD_LETTERS: "nenhuma mensagem nova deixou de ser entregue ou respondida.",
    PATIENT_SILENCE: "os pacientes voltaram a escrever.",
    BACKUP: "o backup do banco de dados voltou a ser feito.",
}
SILENCE_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class Finding:
    """A condition that holds now: what to tell the staff, and the figures behind it."""

    condition: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def check_zapi(settings: Settings, timeout: float = 10.0) -> Finding | None:
    """Z-API's ``/status`` says the instance is connected (None), or it is not / did not answer."""
    if not settings.zapi_enabled:
        return None

    async def status() -> dict[str, Any]:
        async with ZapiClient(
            settings.zapi_instance_url, settings.zapi_client_token, timeout=timeout
        ) as client:
            return await client.status()

    try:
        answer = asyncio.run(status())
    except (ZapiError, OSError, asyncio.TimeoutError) as error:
        # ZapiClient's messages name the host, never the path that holds the instance token.
        reason = f"HTTP {error.status}" if isinstance(error, ZapiError) and error.status else ""
        reason = reason or (str(error) or type(error).__name__)[:200]
        return Finding(
            ZAPI_DISCONNECTED,
            f"não foi possível consultar o WhatsApp (Z-API): {reason}. "
            "As mensagens aos pacientes podem não estar saindo.",
            {"reachable": False, "error": reason},
        )
    if answer.get("connected"):
        return None
    said = str(answer.get("error") or "")
    return Finding(
        ZAPI_DISCONNECTED,
        "o WhatsApp (Z-API) está desconectado"
        + (f" ({said})" if said else "")
        + ". Os pacientes não recebem respostas: reconecte o celular no painel do Z-API.",
        {
            "reachable": True,
            "connected": False,
            "error": said,
            "smartphone_connected": answer.get("smartphoneConnected"),
        },
    )


def check_gestaods(
    session: Session, settings: Settings, now: datetime, *, breaker_open: bool = False
) -> Finding | None:
    """The agenda fails: the circuit breaker is (or was, in any process) open, or too many of
    the last window's calls failed (no answer, 5xx, 429; a 4xx is the request's fault)."""
    window = timedelta(minutes=settings.alert_gestaods_window_minutes)
    failed = (ApiCallLog.status.is_(None)) | (ApiCallLog.status >= 500) | (ApiCallLog.status == 429)
    total, failures, circuit = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((failed, 1), else_=0)), 0),
            func.coalesce(func.sum(case((ApiCallLog.error == "circuit_open", 1), else_=0)), 0),
        ).where(ApiCallLog.service == "gestaods", ApiCallLog.created_at >= now - window)
    ).one()
    details = {
        "window_minutes": settings.alert_gestaods_window_minutes,
        "calls": int(total),
        "failed": int(failures),
        "circuit_open_calls": int(circuit),
        "breaker_open": breaker_open,
    }
    rate_exceeded = (
        total >= settings.alert_gestaods_min_calls
        and failures / total >= settings.alert_gestaods_error_rate
    )
    if not (breaker_open or circuit or rate_exceeded):
        return None
    parts = []
    if breaker_open or circuit:
        parts.append("as chamadas estão sendo bloqueadas (circuito aberto)")
    if total:
        parts.append(
            f"{failures} de {total} chamadas falharam nos últimos "
            f"{settings.alert_gestaods_window_minutes} min"
        )
    return Finding(
        GESTAODS_FAILING,
        "a agenda (GestãoDS) está falhando: "
        + "; ".join(parts)
        + ". Os pacientes não conseguem marcar pelo WhatsApp.",
        details,
    )


def check_dead_letters(session: Session, settings: Settings, now: datetime) -> Finding | None:
    """Messages given up on in the last ``ALERT_DEAD_LETTER_HOURS``: not delivered to a
    patient (outbox) or a patient's message not answered (inbound)."""
    since = now - timedelta(hours=settings.alert_dead_letter_hours)
    outbox = session.execute(
        select(func.count()).where(
            OutboxMessage.status == "dead", OutboxMessage.updated_at >= since
        )
    ).scalar_one()
    inbound = session.execute(
        select(func.count()).where(
            ConversationMessage.direction == "in",
            ConversationMessage.status == "dead",
            ConversationMessage.created_at >= since,
        )
    ).scalar_one()
    if not outbox and not inbound:
        return None
    hours = f"{settings.alert_dead_letter_hours:g} h"
    parts = []
    if outbox:
        parts.append(
            "1 mensagem não foi entregue ao paciente"
            if outbox == 1
            else f"{outbox} mensagens não foram entregues aos pacientes"
        )
    if inbound:
        parts.append(
            "1 mensagem de paciente ficou sem resposta"
            if inbound == 1
            else f"{inbound} mensagens de pacientes ficaram sem resposta"
        )
    return Finding(
        DEAD_LETTERS,
        f"nas últimas {hours}, " + " e ".join(parts) + ". Reenvio: "
        "python -m clinicbot.cli outbox resend --all-dead",
        {
            "outbox_dead": int(outbox),
            "inbound_dead": int(inbound),
            "hours": settings.alert_dead_letter_hours,
        },
    )


def check_patient_silence(session: Session, settings: Settings, now: datetime) -> Finding | None:
    """No patient wrote for ``ALERT_SILENCE_BUSINESS_HOURS`` hours of the clinic's opening
    time (a sign that messages no longer arrive: webhook, number or instance broken)."""
    threshold = timedelta(hours=settings.alert_silence_business_hours)
    if threshold <= timedelta():
        return None
    last = session.execute(
        select(func.max(ConversationMessage.created_at)).where(
            ConversationMessage.direction == "in",
            ConversationMessage.created_at >= now - SILENCE_LOOKBACK,
        )
    ).scalar_one()
    if last is None:
        ever = session.execute(
            select(ConversationMessage.id).where(ConversationMessage.direction == "in").limit(1)
        ).first()
        if ever is None:  # a new installation: nobody wrote yet, nothing stopped
            return None
        last = now - SILENCE_LOOKBACK
    quiet = open_time_between(
        last,
        now,
        tz=settings.clinic_tz,
        days=settings.business_days,
        opens=settings.business_hours_start,
        closes=settings.business_hours_end,
    )
    if quiet < threshold:
        return None
    local = last.astimezone(settings.clinic_tz)
    return Finding(
        PATIENT_SILENCE,
        f"nenhum paciente escreveu desde {local:%d/%m %H:%M} "
        f"({_minutes(quiet)} de horário de atendimento). Verifique se as mensagens estão "
        "chegando (webhook do Z-API, número, instância).",
        {
            "last_message_at": last.isoformat(),
            "open_minutes_quiet": int(quiet.total_seconds() // 60),
        },
    )


def check_backup(engine: Engine, settings: Settings, now: datetime) -> Finding | None:
    """The last backup failed, or the last good one is older than ``BACKUP_MAX_AGE_HOURS``.

    Nothing is said before the first backup ran (a new installation), nor when the scheduled
    backup is off (``BACKUP_SCHEDULE=off``: the clinic backs up some other way).
    """
    if settings.backup_schedule.strip().lower() in ("", "off"):
        return None
    last = last_backup(engine)
    if last is None:
        return None
    if not last.ok:
        when = last.finished_at.astimezone(settings.clinic_tz)
        return Finding(
            BACKUP,
            f"o backup do banco de dados falhou ({when:%d/%m %H:%M}): {(last.error or '')[:300]}",
            {"failed_at": last.finished_at.isoformat(), "error": last.error},
        )
    age = last.age_seconds(now) or 0.0
    if age <= settings.backup_max_age_hours * 3600:
        return None
    return Finding(
        BACKUP,
        f"o último backup do banco de dados foi há {_minutes(timedelta(seconds=age))} "
        f"(o limite é {settings.backup_max_age_hours:g} h).",
        {
            "last_success_at": last.last_success_at.isoformat() if last.last_success_at else None,
            "age_seconds": int(age),
        },
    )
