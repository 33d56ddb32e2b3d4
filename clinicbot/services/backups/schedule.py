"""``BACKUP_SCHEDULE``: when the nightly backup runs, on the clinic's wall clock."""

from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

from clinicbot.settings import Settings

_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def backup_trigger(settings: Settings) -> CronTrigger | None:
    """``HH:MM`` (every day at that time) or a crontab line (``m h dom mon dow``), in
    ``CLINIC_TZ``; None when ``off`` (or empty). Raises ValueError on anything else."""
    value = settings.backup_schedule.strip()
    if value.lower() in ("", "off"):
        return None
    match = _CLOCK_TIME.match(value)
    if match:
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError(f"BACKUP_SCHEDULE: no such time {value!r}")
        return CronTrigger(hour=hour, minute=minute, timezone=settings.clinic_tz)
    try:
        return CronTrigger.from_crontab(value, timezone=settings.clinic_tz)
    except ValueError as error:
        raise ValueError(
            f"BACKUP_SCHEDULE: {value!r} is neither HH:MM nor a crontab line"
        ) from error
