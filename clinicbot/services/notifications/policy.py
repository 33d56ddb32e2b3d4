"""When proactive messages may go out, and how long a waiting-list offer is held.

Quiet hours: nothing is sent between ``quiet_start`` and ``quiet_end`` (clinic time). A message
that would fall in them goes out at their end instead; a reminder that then leaves less than
:data:`REMINDER_MIN_LEAD` before the appointment is dropped (a reminder at 08:00 for an 08:30 visit
only gets in the way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from clinicbot.settings import Settings, get_settings

REMINDER_MIN_LEAD = timedelta(hours=1)
# Appointments still on: they are reminded, and an answer to their reminder still counts.
ACTIVE_APPOINTMENT = ("scheduled", "confirmed")


@dataclass(frozen=True)
class NotificationPolicy:
    """When messages may go out, and how long a waiting-list offer is held."""

    tz: ZoneInfo
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    quiet_start: time = time(21)
    quiet_end: time = time(8)
    offer_hold: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> NotificationPolicy:
        settings = settings or get_settings()
        return cls(
            tz=settings.clinic_tz,
            reminder_offsets=tuple(timedelta(hours=h) for h in settings.reminder_hours_before),
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
            offer_hold=timedelta(minutes=settings.waitlist_offer_minutes),
        )

    def is_quiet(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz).time()
        if self.quiet_start > self.quiet_end:  # overnight, e.g. 21:00-08:00
            return local >= self.quiet_start or local < self.quiet_end
        return self.quiet_start <= local < self.quiet_end

    def next_sending_time(self, moment: datetime) -> datetime:
        """``moment``, or the end of the quiet hours it falls in (UTC)."""
        if not self.is_quiet(moment):
            return moment
        local = moment.astimezone(self.tz)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end, tzinfo=self.tz)
        return end.astimezone(timezone.utc)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()
