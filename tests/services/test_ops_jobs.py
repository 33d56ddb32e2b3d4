"""The scheduler's nightly backup and alert checks (issue 13), under a pinned clock."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Alert, OutboxMessage
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.backups import last_backup
from clinicbot.services.backups.archives import local_archives
from clinicbot.services.scheduler import Jobs, build_scheduler
from clinicbot.settings import Settings, read_settings
from tests.services.notify_support import TZ, FrozenClock

STAFF = "5531912345678"


def ops_settings(tmp_path: Path, **changes: object) -> Settings:
    return dataclasses.replace(
        read_settings(),
        clinic_tz_name=str(TZ),
        backup_dir=str(tmp_path / "backups"),
        backup_s3_bucket="",
        zapi_instance_id="",  # no Z-API to ask in these tests
        alert_whatsapp_phone=STAFF,
        alert_email_to=(),
        alert_webhook_url="",
        alert_silence_business_hours=0,
        **changes,
    )


def test_the_backup_runs_nightly_at_the_configured_clinic_time(tmp_path: Path) -> None:
    pinned = datetime(2031, 3, 10, 14, 0, tzinfo=timezone.utc)  # 11:00 in São Paulo

    def next_backup(schedule: str) -> datetime | None:
        settings = ops_settings(tmp_path, backup_schedule=schedule)
        scheduler = build_scheduler(settings, _NoJobs())  # type: ignore[arg-type]
        job = scheduler.get_job("backup")
        return None if job is None else job.trigger.get_next_fire_time(None, pinned)

    assert next_backup("02:00") == datetime(2031, 3, 11, 2, 0, tzinfo=TZ)
    assert next_backup("23:30") == datetime(2031, 3, 10, 23, 30, tzinfo=TZ)
    assert next_backup("15 3 * * sun") == datetime(2031, 3, 16, 3, 15, tzinfo=TZ)
    assert next_backup("off") is None
    with pytest.raises(ValueError, match="BACKUP_SCHEDULE"):
        next_backup("25:00")
    settings = ops_settings(tmp_path)
    scheduler = build_scheduler(settings, _NoJobs())  # type: ignore[arg-type]
    alerts_job = scheduler.get_job("alerts")
    assert alerts_job.trigger.interval == timedelta(seconds=settings.alert_check_seconds)
    off = dataclasses.replace(settings, alerts_enabled=False)
    assert build_scheduler(off, _NoJobs()).get_job("alerts") is None  # type: ignore[arg-type]


class _NoJobs:
    """Stands in for :class:`Jobs` where only the schedule is looked at."""

    def __getattr__(self, name: str) -> object:
        return lambda: None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_night_of_jobs_backs_up_and_a_late_backup_raises_an_alert(
    engine: Engine, agenda: GestaoDSClient, clock: FrozenClock, tmp_path: Path
) -> None:
    """02:00: the backup job writes an archive; 27 h later with no new backup the alert job
    opens a "backup" alert and queues one WhatsApp to the staff; a new backup resolves it."""
    settings = ops_settings(tmp_path)
    clock.set(datetime(2031, 3, 10, 2, 0, tzinfo=TZ))
    jobs = Jobs(settings, engine=engine, agenda=agenda, clock=clock)
    jobs.backup()
    recorded = last_backup(engine)
    assert recorded is not None and recorded.ok
    assert [*local_archives(tmp_path / "backups")] == ["clinicbot-20310310T050000Z.sqlite.gz"]
    jobs.evaluate_alerts()
    assert _alerts(engine) == []

    clock.advance(hours=27)
    jobs.evaluate_alerts()
    jobs.evaluate_alerts()
    assert _alerts(engine) == [("backup", "open")]
    [notice] = _staff_messages(engine)
    assert notice.startswith("⚠️ Alerta do assistente: o último backup do banco de dados foi há 27")

    jobs.backup()
    jobs.evaluate_alerts()
    assert _alerts(engine) == [("backup", "resolved")]
    assert _staff_messages(engine)[1].startswith("✅ Resolvido: o backup do banco de dados")


def _alerts(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(select(Alert.condition, Alert.status).order_by(Alert.id)).all()
    return [(condition, status) for condition, status in rows]


def _staff_messages(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(OutboxMessage.text)
                .where(OutboxMessage.phone == STAFF)
                .order_by(OutboxMessage.id)
            ).scalars()
        )
