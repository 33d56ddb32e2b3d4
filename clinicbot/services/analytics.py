"""The figures of the staff dashboard, for one clinic and a range of clinic-local days.

Every figure is read from the tables the assistant already writes, over the half-open UTC
interval that covers the range's days on the clinic's wall clock (:class:`Period`):

- conversations: those that *started* in the range (``started_on``); resolution rate = resolved
  by the bot / conversations that ended (an open conversation has no outcome yet), handoff rate
  = conversations with a ``conversation_dashboard`` row / conversations;
- bookings: ``appointments`` rows created in the range (the assistant keeps a local copy of
  every appointment it books, waiting-list fills included);
- reply time: ``latency_ms`` of the outbound messages sent in the range (from the patient's
  message to the reply), as p50/p95 with linear interpolation (PostgreSQL's
  ``percentile_cont``; the same formula in Python on SQLite);
- booking funnel: ``patient_transactions`` started in the range; a stage counts as reached when
  it or any later stage has a timestamp, so the funnel never grows;
- intents: inbound messages in the range, by the intent Rasa acted on;
- reminders and waiting-list offers: ``notifications`` due (``scheduled_for``) in the range;
  fills: waiting-list entries whose appointment was created in the range;
- API calls: ``api_call_logs`` in the range; an error is a call without a response or with an
  HTTP status of 500 or more (4xx answers, such as "patient not found", are counted apart).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from clinicbot.db.models import (
    ApiCallLog,
    Appointment,
    Conversation,
    ConversationDashboard,
    ConversationMessage,
    Notification,
    PatientTransaction,
    WaitingList,
)
from clinicbot.tenancy import DEFAULT_CLINIC_ID

MAX_DAYS = 366
DEFAULT_DAYS = 30
TOP_INTENTS = 10
# The funnel's stages in order, each with the column stamped when a booking attempt reached it.
FUNNEL = (
    ("started", PatientTransaction.started_at),
    ("identified", PatientTransaction.identified_at),
    ("slot_chosen", PatientTransaction.slot_chosen_at),
    ("booked", PatientTransaction.booked_at),
)


class BadPeriod(ValueError):
    """A date range the dashboard cannot show (unreadable, reversed or too long)."""


@dataclass(frozen=True)
class Period:
    """Clinic-local days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BadPeriod("the range ends before it starts")
        if len(self) > MAX_DAYS:
            raise BadPeriod(f"the range is longer than {MAX_DAYS} days")

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(len(self))]

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """``[first midnight, midnight after the last day)`` on the clinic's clock, in UTC."""

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(), tz).astimezone(timezone.utc)

        return midnight(self.start), midnight(self.end + timedelta(days=1))

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """The range of two ISO dates; ``end`` defaults to today, ``start`` to 30 days before."""
        try:
            last = date.fromisoformat(end) if end else today
            first = date.fromisoformat(start) if start else last - timedelta(DEFAULT_DAYS - 1)
        except ValueError as error:
            raise BadPeriod("dates must be YYYY-MM-DD") from error
        return cls(first, last)


@dataclass(frozen=True)
class DayFigures:
    day: date
    conversations: int
    bookings: int


@dataclass(frozen=True)
class ConversationFigures:
    started: int
    ended: int
    resolved_by_bot: int
    resolution_rate: float | None  # of the ended conversations
    handed_off: int
    handoff_rate: float | None  # of the started conversations


@dataclass(frozen=True)
class ReplyTimes:
    replies: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    reached: int
    dropped: int  # reached this stage but not the next (still in progress included)
    drop_rate: float | None


@dataclass(frozen=True)
class IntentCount:
    intent: str
    messages: int
    share: float  # of the inbound messages with an intent


@dataclass(frozen=True)
class WaitingListFigures:
    joined: int
    offers_sent: int
    filled: int
    declined: int
    lapsed: int


@dataclass(frozen=True)
class ReminderFigures:
    sent: int
    confirmed: int
    declined: int
    failed: int


@dataclass(frozen=True)
class ApiServiceFigures:
    service: str
    calls: int
    errors: int  # no response, or HTTP >= 500
    error_rate: float
    client_errors: int  # HTTP 4xx
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class DashboardReport:
    period: Period
    clinic_id: int
    daily: list[DayFigures]
    conversations: ConversationFigures
    bookings: int
    reply_times: ReplyTimes
    funnel: list[FunnelStage]
    intents: list[IntentCount]
    waiting_list: WaitingListFigures
    reminders: ReminderFigures
    api: list[ApiServiceFigures]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: dates as ISO strings."""
        report = asdict(self)
        report["period"] = {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
        }
        for day in report["daily"]:
            day["day"] = day["day"].isoformat()
        return report


def clinic_scope(model: Any, clinic_id: int) -> ColumnElement[bool]:
    """The rows of ``clinic_id`` in ``model``'s table.

    A table without a ``clinic_id`` column (before issue #16 adds one) holds only the default
    clinic's rows.
    """
    column = getattr(model, "clinic_id", None)
    if column is not None:
        return column == clinic_id
    return true() if clinic_id == DEFAULT_CLINIC_ID else false()


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (as ``percentile_cont``)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _percentiles(
    session: Session, value: Any, condition: ColumnElement[bool], group: Any = None
) -> dict[Any, tuple[float | None, float | None]]:
    """p50 and p95 of ``value`` over the rows matching ``condition``, per ``group`` value
    (one entry keyed None without ``group``; groups without rows are absent)."""
    keys = [group] if group is not None else []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(
                *keys,
                func.percentile_cont(0.5).within_group(value),
                func.percentile_cont(0.95).within_group(value),
            )
            .where(condition)
            .group_by(*keys)
        ).all()
        return {
            (row[0] if keys else None): (row[-2], row[-1]) for row in rows if row[-1] is not None
        }
    values: dict[Any, list[float]] = defaultdict(list)
    for row in session.execute(select(*keys, value).where(condition).order_by(*keys, value)):
        values[row[0] if keys else None].append(row[-1])
    return {
        key: (percentile(ordered, 0.5), percentile(ordered, 0.95))
        for key, ordered in values.items()
    }


def _first_of(columns: list[Any]) -> Any:
    """``COALESCE`` of ``columns`` (SQLite's wants two arguments at least)."""
    return columns[0] if len(columns) == 1 else func.coalesce(*columns)


class _Query:
    """The report's queries, sharing the session, the UTC bounds and the clinic."""

    def __init__(self, session: Session, period: Period, clinic_id: int, tz: ZoneInfo) -> None:
        self.session = session
        self.period = period
        self.clinic_id = clinic_id
        self.tz = tz
        self.since, self.until = period.bounds(tz)

    def within(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.since, column < self.until)

    def conversations_started(self) -> ColumnElement[bool]:
        return and_(
            Conversation.started_on.between(self.period.start, self.period.end),
            clinic_scope(Conversation, self.clinic_id),
        )

    def daily(self) -> list[DayFigures]:
        conversations = dict(
            self.session.execute(
                select(Conversation.started_on, func.count())
                .where(self.conversations_started())
                .group_by(Conversation.started_on)
            ).all()
        )
        bookings = Counter(
            created_at.astimezone(self.tz).date()
            for created_at in self.session.execute(
                select(Appointment.created_at).where(
                    self.within(Appointment.created_at), clinic_scope(Appointment, self.clinic_id)
                )
            ).scalars()
        )
        return [
            DayFigures(day, conversations.get(day, 0), bookings.get(day, 0))
            for day in self.period.days()
        ]

    def conversations(self) -> ConversationFigures:
        dashboard = ConversationDashboard
        handed_off = exists().where(
            or_(
                dashboard.conversation_id == Conversation.id,
                and_(
                    dashboard.conversation_id.is_(None),
                    dashboard.phone == Conversation.phone,
                    dashboard.created_at >= Conversation.started_at,
                    or_(
                        Conversation.ended_at.is_(None),
                        dashboard.created_at <= Conversation.ended_at,
                    ),
                ),
            )
        )
        ended = Conversation.ended_at.is_not(None)
        started, ended_count, resolved, handoffs = self.session.execute(
            select(
                func.count(),
                func.count(case((ended, 1))),
                func.count(case((and_(ended, Conversation.resolved_by_bot), 1))),
                func.count(case((handed_off, 1))),
            ).where(self.conversations_started())
        ).one()
        return ConversationFigures(
            started=started,
            ended=ended_count,
            resolved_by_bot=resolved,
            resolution_rate=ratio(resolved, ended_count),
            handed_off=handoffs,
            handoff_rate=ratio(handoffs, started),
        )

    def reply_times(self) -> ReplyTimes:
        replies = and_(
            ConversationMessage.direction == "out",
            ConversationMessage.latency_ms.is_not(None),
            self.within(ConversationMessage.created_at),
            clinic_scope(ConversationMessage, self.clinic_id),
        )
        count = self.session.execute(select(func.count()).where(replies)).scalar_one()
        p50, p95 = _percentiles(self.session, ConversationMessage.latency_ms, replies).get(
            None, (None, None)
        )
        return ReplyTimes(count, p50, p95)

    def funnel(self) -> list[FunnelStage]:
        columns = [column for _stage, column in FUNNEL]
        reached = self.session.execute(
            select(*(func.count(_first_of(columns[index:])) for index in range(len(FUNNEL))))
            .select_from(PatientTransaction)
            .where(
                self.within(PatientTransaction.started_at),
                clinic_scope(PatientTransaction, self.clinic_id),
            )
        ).one()
        stages = []
        for index, (stage, _column) in enumerate(FUNNEL):
            following = reached[index + 1] if index + 1 < len(FUNNEL) else reached[index]
            dropped = reached[index] - following
            stages.append(
                FunnelStage(stage, reached[index], dropped, ratio(dropped, reached[index]))
            )
        return stages

    def intents(self) -> list[IntentCount]:
        inbound = and_(
            ConversationMessage.direction == "in",
            ConversationMessage.intent.is_not(None),
            self.within(ConversationMessage.created_at),
            clinic_scope(ConversationMessage, self.clinic_id),
        )
        messages = func.count().label("messages")
        rows = self.session.execute(
            select(ConversationMessage.intent, messages)
            .where(inbound)
            .group_by(ConversationMessage.intent)
            .order_by(messages.desc(), ConversationMessage.intent)
        ).all()
        total = sum(count for _intent, count in rows)
        return [IntentCount(intent, count, count / total) for intent, count in rows[:TOP_INTENTS]]

    def _notifications(self, kind: str) -> dict[str, int]:
        due = and_(
            Notification.kind == kind,
            self.within(Notification.scheduled_for),
            clinic_scope(Notification, self.clinic_id),
        )
        sent, failed, yes, no, lapsed = self.session.execute(
            select(
                func.count(case((Notification.status == "sent", 1))),
                func.count(case((Notification.status == "failed", 1))),
                func.count(case((Notification.reply == "yes", 1))),
                func.count(case((Notification.reply == "no", 1))),
                func.count(case((Notification.reply == "lapsed", 1))),
            ).where(due)
        ).one()
        return {"sent": sent, "failed": failed, "yes": yes, "no": no, "lapsed": lapsed}

    def waiting_list(self) -> WaitingListFigures:
        joined = self.session.execute(
            select(func.count()).where(
                self.within(WaitingList.created_at), clinic_scope(WaitingList, self.clinic_id)
            )
        ).scalar_one()
        filled = self.session.execute(
            select(func.count())
            .select_from(WaitingList)
            .join(Appointment, Appointment.id == WaitingList.booked_appointment_id)
            .where(
                WaitingList.status == "booked",
                self.within(Appointment.created_at),
                clinic_scope(WaitingList, self.clinic_id),
            )
        ).scalar_one()
        offers = self._notifications("waitlist_offer")
        return WaitingListFigures(joined, offers["sent"], filled, offers["no"], offers["lapsed"])

    def reminders(self) -> ReminderFigures:
        figures = self._notifications("reminder")
        return ReminderFigures(figures["sent"], figures["yes"], figures["no"], figures["failed"])

    def api(self) -> list[ApiServiceFigures]:
        calls = and_(self.within(ApiCallLog.created_at), clinic_scope(ApiCallLog, self.clinic_id))
        failed = or_(ApiCallLog.status.is_(None), ApiCallLog.status >= 500)
        refused = ApiCallLog.status.between(400, 499)
        rows = self.session.execute(
            select(
                ApiCallLog.service,
                func.count(),
                func.count(case((failed, 1))),
                func.count(case((refused, 1))),
            )
            .where(calls)
            .group_by(ApiCallLog.service)
            .order_by(ApiCallLog.service)
        ).all()
        latencies = _percentiles(self.session, ApiCallLog.latency_ms, calls, ApiCallLog.service)
        return [
            ApiServiceFigures(
                service, count, errors, errors / count, client_errors, *latencies[service]
            )
            for service, count, errors, client_errors in rows
        ]


def dashboard_report(
    session: Session, period: Period, *, tz: ZoneInfo, clinic_id: int = DEFAULT_CLINIC_ID
) -> DashboardReport:
    """Every figure of the dashboard for ``period`` (clinic-local days in ``tz``)."""
    query = _Query(session, period, clinic_id, tz)
    daily = query.daily()
    return DashboardReport(
        period=period,
        clinic_id=clinic_id,
        daily=daily,
        conversations=query.conversations(),
        bookings=sum(day.bookings for day in daily),
        reply_times=query.reply_times(),
        funnel=query.funnel(),
        intents=query.intents(),
        waiting_list=query.waiting_list(),
        reminders=query.reminders(),
        api=query.api(),
    )
