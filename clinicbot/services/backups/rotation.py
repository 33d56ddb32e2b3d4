"""Which backups to keep: the newest of each of the last N days, weeks and months.

The usual grandfather-father-son scheme, as restic's ``--keep-daily/--keep-weekly/
--keep-monthly`` count it: walking the backups newest first, each rule keeps the newest backup
of every period (clinic-local day, ISO week, month) until it has kept N periods. Periods
without a backup do not count, so a week the server was off does not eat into what is kept.
The newest backup is always kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class RetentionPolicy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6


def _day(moment: date) -> tuple[int, ...]:
    return (moment.year, moment.month, moment.day)


def _week(moment: date) -> tuple[int, ...]:
    iso = moment.isocalendar()
    return (iso.year, iso.week)


def _month(moment: date) -> tuple[int, ...]:
    return (moment.year, moment.month)


def to_keep(backups: Mapping[str, datetime], policy: RetentionPolicy, tz: ZoneInfo) -> set[str]:
    """The names in ``backups`` (name → when taken) that the policy keeps."""
    newest_first = sorted(backups, key=lambda name: backups[name], reverse=True)
    kept: set[str] = set(newest_first[:1])
    rules: list[tuple[int, Callable[[date], tuple[int, ...]]]] = [
        (policy.daily, _day),
        (policy.weekly, _week),
        (policy.monthly, _month),
    ]
    for count, period_of in rules:
        seen: set[tuple[int, ...]] = set()
        for name in newest_first:
            if len(seen) >= count:
                break
            period = period_of(backups[name].astimezone(tz).date())
            if period not in seen:
                seen.add(period)
                kept.add(name)
    return kept
