"""Alerts: each condition opened once, told to the staff once, resolved once.

Every ``ALERT_CHECK_SECONDS`` the scheduler runs :meth:`AlertEvaluator.evaluate`:

1. every check runs (:mod:`clinicbot.services.alerts.conditions`); one that raises is logged
   and its condition left as it was (an unknown is neither a new alert nor a resolution);
2. a condition that holds and has no open alert opens one (an ``alerts`` row; the partial
   unique index keeps it to one open row per clinic and condition even when several scheduler
   instances race); an open alert whose condition no longer holds is resolved;
3. each channel not yet told is told: of the opening while the alert is open, of the
   resolution once it is resolved (only channels that were told of the opening). A channel
   that fails is retried at the next evaluation (resolutions for a day).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from clinicbot.clock import Clock
from clinicbot.db.claims import claim_one
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Alert
from clinicbot.db.types import utcnow
from clinicbot.services.alerts import conditions
from clinicbot.services.alerts.channels import Channel, Notice, configured_channels
from clinicbot.services.alerts.conditions import RESOLVED_TEXT, Finding
from clinicbot.settings import Settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID

logger = logging.getLogger(__name__)

RESOLVED_NOTICE_RETRY = timedelta(days=1)
TITLES = {
    conditions.ZAPI_DISCONNECTED: "WhatsApp desconectado",
    conditions.GESTAODS_FAILING: "agenda GestãoDS falhando",
    conditions.DEAD_LETTERS: "mensagens não entregues",
    conditions.PATIENT_SILENCE: "nenhuma mensagem de paciente",
    conditions.BACKUP: "backup com problema",
}

Check = Callable[[datetime], Finding | None]


@dataclass
class Evaluation:
    """What one evaluation changed: conditions opened and resolved, notices sent and failed."""

    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (condition, kind, channel)
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


class AlertEvaluator:
    """Checks the conditions of one installation and keeps the ``alerts`` table and the staff
    informed. ``breaker_open`` reports this process's GestãoDS circuit breaker."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        clock: Clock = utcnow,
        channels: list[Channel] | None = None,
        breaker_open: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.channels = configured_channels(settings) if channels is None else channels
        self.breaker_open = breaker_open

    def checks(self, clinic_id: int = DEFAULT_CLINIC_ID) -> dict[str, Check]:
        """The checks of ``clinic_id`` (its sessions act for it); the backup, of the whole
        installation, is the default clinic's, whose staff run the deployment."""
        settings, engine = self.settings, self.engine

        def in_session(check: Callable[..., Finding | None]) -> Check:
            def run(now: datetime) -> Finding | None:
                with session_scope(engine) as session:
                    return check(session, settings, now)

            return run

        def gestaods(now: datetime) -> Finding | None:
            with session_scope(engine) as session:
                return conditions.check_gestaods(
                    session, settings, now, breaker_open=self.breaker_open()
                )

        checks: dict[str, Check] = {
            conditions.ZAPI_DISCONNECTED: lambda _now: conditions.check_zapi(settings),
            conditions.GESTAODS_FAILING: gestaods,
            conditions.DEAD_LETTERS: in_session(conditions.check_dead_letters),
            conditions.PATIENT_SILENCE: in_session(conditions.check_patient_silence),
        }
        if clinic_id == DEFAULT_CLINIC_ID:
            checks[conditions.BACKUP] = lambda now: conditions.check_backup(engine, settings, now)
        return checks

    def evaluate(self, *, clinic_id: int = DEFAULT_CLINIC_ID) -> Evaluation:
        """One evaluation of ``clinic_id``'s conditions, told to this evaluator's channels (its
        settings': the clinic's own contacts). Run it acting for the clinic
        (:class:`~clinicbot.tenancy.jobs.ClinicJobs` does), so its checks read that clinic's
        rows only."""
        now = self.clock()
        result = Evaluation()
        findings: dict[str, Finding | None] = {}
        for condition, check in self.checks(clinic_id).items():
            try:
                findings[condition] = check(now)
            except Exception:  # an unknown is not a verdict: leave the condition as it is
                logger.exception("alert check %s failed", condition)
        self._apply(findings, clinic_id, now, result)
        self._deliver(clinic_id, now, result)
        return result

    def _apply(
        self, findings: dict[str, Finding | None], clinic_id: int, now: datetime, result: Evaluation
    ) -> None:
        with session_scope(self.engine) as session:
            open_alerts = {
                alert.condition: alert
                for alert in session.execute(
                    select(Alert).where(Alert.clinic_id == clinic_id, Alert.status == "open")
                ).scalars()
            }
        for condition, finding in findings.items():
            current = open_alerts.get(condition)
            if finding is not None and current is None:
                if self._open(finding, clinic_id, now):
                    result.opened.append(condition)
            elif finding is not None and current is not None:
                if finding.summary != current.summary or finding.details != current.details:
                    with session_scope(self.engine) as session:
                        session.execute(
                            update(Alert)
                            .where(Alert.id == current.id, Alert.status == "open")
                            .values(summary=finding.summary, details=finding.details)
                        )
            elif finding is None and current is not None:
                with session_scope(self.engine) as session:
                    changed = session.execute(
                        update(Alert)
                        .where(Alert.id == current.id, Alert.status == "open")
                        .values(status="resolved", resolved_at=now)
                    ).rowcount
                if changed:
                    logger.info("alert resolved: %s (clinic %d)", condition, clinic_id)
                    result.resolved.append(condition)

    def _open(self, finding: Finding, clinic_id: int, now: datetime) -> bool:
        try:
            with session_scope(self.engine) as session:
                session.add(
                    Alert(
                        clinic_id=clinic_id,
                        condition=finding.condition,
                        status="open",
                        summary=finding.summary,
                        details=finding.details,
                        opened_at=now,
                        notices={"open": {}, "resolved": {}},
                    )
                )
        except IntegrityError:  # another scheduler instance opened it first
            return False
        logger.warning(
            "alert opened: %s (clinic %d): %s", finding.condition, clinic_id, finding.summary
        )
        return True

    def _deliver(self, clinic_id: int, now: datetime, result: Evaluation) -> None:
        if not self.channels:
            return
        with session_scope(self.engine) as session:
            pending = list(
                session.execute(
                    select(Alert.id).where(
                        Alert.clinic_id == clinic_id,
                        or_(
                            Alert.status == "open",
                            and_(
                                Alert.status == "resolved",
                                Alert.resolved_at >= now - RESOLVED_NOTICE_RETRY,
                            ),
                        ),
                    )
                ).scalars()
            )
        for alert_id in pending:
            with session_scope(self.engine) as session:
                alert = claim_one(session, Alert, Alert.id == alert_id)
                if alert is None:  # another instance is telling the staff right now
                    continue
                notices = alert.notices or {}
                told_open = dict(notices.get("open") or {})
                told_resolved = dict(notices.get("resolved") or {})
                errors: list[str] = []
                for channel in self.channels:
                    if alert.status == "open" and channel.name not in told_open:
                        kind, told = "open", told_open
                    elif (
                        alert.status == "resolved"
                        and channel.name in told_open
                        and channel.name not in told_resolved
                    ):
                        kind, told = "resolved", told_resolved
                    else:
                        continue
                    try:
                        channel.send(session, self._notice(alert, kind, now))
                    except Exception as error:  # retried at the next evaluation
                        logger.warning(
                            "alert %s: %s notice by %s failed: %s",
                            alert.condition,
                            kind,
                            channel.name,
                            error,
                        )
                        errors.append(f"{channel.name}: {error}"[:500])
                        result.failed.append((alert.condition, kind, channel.name))
                        continue
                    told[channel.name] = now.isoformat()
                    result.sent.append((alert.condition, kind, channel.name))
                alert.notices = {"open": told_open, "resolved": told_resolved}
                alert.delivery_error = "; ".join(errors) or None

    def _notice(self, alert: Alert, kind: str, now: datetime) -> Notice:
        tz = self.settings.clinic_tz
        title = TITLES.get(alert.condition, alert.condition)
        opened = alert.opened_at.astimezone(tz)
        if kind == "open":
            subject = f"[Assistente] Alerta: {title}"
            text = f"⚠️ Alerta do assistente: {alert.summary}"
        else:
            subject = f"[Assistente] Resolvido: {title}"
            lasted = _duration((alert.resolved_at or now) - alert.opened_at)
            text = (
                f"✅ Resolvido: {RESOLVED_TEXT.get(alert.condition, title)} "
                f"(alerta de {opened:%d/%m %H:%M}, durou {lasted})"
            )
        payload = {
            "alert_id": alert.id,
            "clinic_id": alert.clinic_id,
            "condition": alert.condition,
            "state": kind,
            "title": title,
            "text": text,
            "summary": alert.summary,
            "details": alert.details or {},
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        }
        return Notice(alert.id, alert.clinic_id, alert.condition, kind, subject, text, payload)
