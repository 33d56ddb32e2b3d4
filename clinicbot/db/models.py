"""SQLAlchemy models of the clinic's schema (SQLAlchemy 1.4, queried in the 2.0 style).

The migrations in ``clinicbot/db/migrations`` create these tables; ``tests/db`` checks that the
two agree on both PostgreSQL and SQLite. Timestamps are timezone-aware UTC (:class:`UTCDateTime`);
``*_date``/``*_on`` columns are clinic-local dates, derived from the matching timestamp.

PostgreSQL-only details live in the migrations: ``conversation_messages`` is range-partitioned by
month on ``created_at`` (its primary key there is ``(id, created_at)``), and triggers keep
``chatbot_metrics``, ``conversation_message_keys`` and the conversations' reply counters current
(SQLite has equivalent triggers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import declarative_base

from clinicbot.db.checks import one_of
from clinicbot.db.types import BigIntegerPK, JSONType, UTCDateTime, utcnow
from clinicbot.settings import get_settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLAlchemy 1.4 ships no types: to mypy the declarative base (and so every column) is Any.
Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

APPOINTMENT_STATUSES = ("scheduled", "confirmed", "canceled", "completed", "no_show", "rescheduled")
CONVERSATION_STATUSES = ("active", "handed_off", "closed", "expired")
MESSAGE_DIRECTIONS = ("in", "out")
MESSAGE_STATUSES = (
    "received",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "processing",  # inbound, claimed by the process running its Rasa turn (migration 0004)
    "processed",
    "dead",  # inbound: its turn kept failing; outbound: the outbox gave up (migration 0005)
    "throttled",  # inbound, stored and acknowledged but over the rate limit: no turn (0007)
)
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "dead")
WAITING_LIST_STATUSES = ("waiting", "offered", "booked", "left", "expired")
WAITING_LIST_PERIODS = ("any", "morning", "afternoon", "evening")
DASHBOARD_STATUSES = ("open", "waiting_human", "with_human", "closed")
# slot_chosen: the time; day_chosen and confirmed came with migration 0010.
FUNNEL_STAGES = (
    "started",
    "identified",
    "slot_chosen",
    "booked",
    "abandoned",
    "day_chosen",
    "confirmed",
)
# How a conversation ended (migration 0010; clinicbot/conversations/lifecycle.py).
CONVERSATION_OUTCOMES = (
    "booked",
    "rescheduled",
    "cancelled",
    "waiting_list",
    "answered",
    "handoff",
    "abandoned",
)
NOTIFICATION_KINDS = ("confirmation", "reminder", "cancellation", "waitlist_offer")
# queued: in the outbox; sent: the provider accepted it (migration 0005).
NOTIFICATION_STATUSES = ("pending", "queued", "sent", "failed", "canceled")
AB_TEST_STATUSES = ("draft", "running", "stopped")
FEEDBACK_STATUSES = ("asked", "rated", "commented", "expired")  # migration 0012
# posting: the booking request is on its way; uncertain: its answer was lost, the agenda is being
# checked; then booked, refused (nothing booked), missing (not found in the agenda in time) or
# unresolved (the agenda could not be read in time) (migration 0008).
BOOKING_ATTEMPT_STATUSES = ("posting", "uncertain", "booked", "refused", "missing", "unresolved")
OPEN_BOOKING_ATTEMPT = ("posting", "uncertain")

# Waiting-list priorities: lower runs first, so ``ORDER BY priority, created_at`` walks the
# ``waiting_list(priority, created_at)`` index forwards.
PRIORITY_URGENT = 0
PRIORITY_RETURNING = 1
PRIORITY_NORMAL = 2


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(one_of(column, values), name=f"{column}_valid")


def clinic_date(moment: datetime, tz: tzinfo | None = None) -> date:
    """The calendar date of a UTC instant on ``tz`` (the default clinic's, ``CLINIC_TZ``)."""
    return moment.astimezone(tz or get_settings().clinic_tz).date()


def _clinic_tz(connection: Connection, clinic_id: int | None) -> ZoneInfo:
    """The wall clock of clinic ``clinic_id``, read on ``connection`` (inside the flush or
    statement that needs it, so it sees the same database)."""
    if clinic_id is None or clinic_id == DEFAULT_CLINIC_ID:
        return get_settings().clinic_tz
    name = connection.execute(
        select(ClinicRecord.timezone).where(ClinicRecord.id == clinic_id)
    ).scalar_one_or_none()
    return ZoneInfo(name) if name else get_settings().clinic_tz


def _clinic_date_default(source: str) -> Callable[[Any], date]:
    """Insert default for a clinic-local date column, taken from the timestamp ``source``."""

    def default(context: Any) -> date:
        parameters = context.get_current_parameters()
        tz = _clinic_tz(context.connection, parameters.get("clinic_id"))
        return clinic_date(parameters.get(source) or utcnow(), tz)

    return default


def _counter(type_: Any = Integer) -> Column:
    return Column(type_, nullable=False, default=0, server_default=sql_text("0"))


def _flag(default: bool) -> Column:
    return Column(
        Boolean, nullable=False, default=default, server_default=sql_text(str(default).lower())
    )


def _clinic_id(*, index: bool = True) -> Column:
    """The clinic that owns the row (``clinics.id``; 1 is the default clinic, the one the
    environment configures). Queries for a clinic go through :mod:`clinicbot.tenancy.scope`.
    ``index`` off: the table has an index led by ``clinic_id`` already."""
    return Column(
        Integer,
        ForeignKey("clinics.id"),
        nullable=False,
        index=index,
        default=1,
        server_default=sql_text("1"),
    )


def _created_at() -> Column:
    return Column(
        UTCDateTime, nullable=False, default=utcnow, server_default=sql_text("CURRENT_TIMESTAMP")
    )


def _updated_at() -> Column:
    return Column(
        UTCDateTime,
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=sql_text("CURRENT_TIMESTAMP"),
    )


class ClinicRecord(Base):
    """A clinic served by this deployment (:mod:`clinicbot.tenancy`); row 1 is the default one.

    Secret columns hold Fernet tokens (:mod:`clinicbot.tenancy.secrets`), never the secret;
    the staff token only as its SHA-256. The default clinic leaves them empty: its services and
    secrets come from the environment (``GESTAODS_TOKEN``, ``ZAPI_*``, ``META_*``,
    ``STAFF_TOKEN``). ``faq`` holds what ``clinic.yml`` holds; ``options`` the reminder and
    quiet-hour settings that differ from the environment's.
    """

    __tablename__ = "clinics"

    id = Column(Integer, primary_key=True)
    slug = Column(String(64), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    timezone = Column(
        String(64), nullable=False, default="America/Sao_Paulo", server_default="America/Sao_Paulo"
    )
    gestaods_base_url = Column(String(300))
    gestaods_env = Column(String(8), nullable=False, default="prod", server_default="prod")
    gestaods_token = Column(Text)
    zapi_instance_id = Column(String(100), unique=True)
    zapi_instance_token = Column(Text)
    zapi_client_token = Column(Text)
    meta_phone_number_id = Column(String(64), unique=True)
    meta_access_token = Column(Text)
    meta_app_secret = Column(Text)
    meta_verify_token = Column(Text)
    staff_token_sha256 = Column(String(64), unique=True)
    faq = Column(JSONType)
    options = Column(JSONType)
    active = _flag(True)
    created_at = _created_at()
    updated_at = _updated_at()


class Conversation(Base):
    """One session of a patient with the assistant; its changes feed ``chatbot_metrics``."""

    __tablename__ = "conversations"
    __table_args__ = (
        _one_of("status", CONVERSATION_STATUSES),
        _one_of("outcome", CONVERSATION_OUTCOMES),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        Index(None, "phone", "updated_at"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    phone = Column(String(64), nullable=False)
    channel = Column(String(32), nullable=False, default="whatsapp", server_default="whatsapp")
    status = Column(String(16), nullable=False, default="active", server_default="active")
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The clinic-local day the conversation counts for in chatbot_metrics.
    started_on = Column(Date, nullable=False, default=_clinic_date_default("started_at"))
    updated_at = _updated_at()
    ended_at = Column(UTCDateTime)
    last_intent = Column(String(64))
    resolved_by_bot = _flag(False)
    appointment_booked = _flag(False)
    satisfaction = Column(SmallInteger)  # 1-5 rating, when the patient answered the survey
    # Maintained by a trigger on conversation_messages (outbound rows with latency_ms).
    replies_count = _counter()
    response_time_ms_total = _counter(BigInteger)
    # The patient's inbound rate limit: when their token bucket is full again
    # (clinicbot/whatsapp/throttle.py; migration 0005).
    rate_bucket_full_at = Column(UTCDateTime)
    # How it ended, or what it achieved so far (migration 0010).
    outcome = Column(String(16))


class ConversationMessage(Base):
    """Every inbound and outbound message, stored as received (masking is for logs only).

    ``latency_ms`` on an outbound row is the time from the patient's message to this reply.
    ``(channel, external_message_id)`` is unique through ``conversation_message_keys`` (a
    partitioned table cannot have a unique index without the partition key): inserting a
    redelivered webhook raises ``IntegrityError`` on both backends.
    """

    __tablename__ = "conversation_messages"
    __table_args__ = (
        _one_of("direction", MESSAGE_DIRECTIONS),
        _one_of("status", MESSAGE_STATUSES),
        Index(None, "phone", "created_at"),
        Index(None, "conversation_id", "created_at"),
    )

    id = Column(BigIntegerPK, primary_key=True)
    clinic_id = _clinic_id()
    conversation_id = Column(ForeignKey("conversations.id", ondelete="SET NULL"))
    phone = Column(String(64), nullable=False)
    direction = Column(String(3), nullable=False)
    text = Column(Text)
    intent = Column(String(64))
    # Inbound: the classifier's top intent and its confidence; ``intent`` is what Rasa acted on,
    # ``nlu_fallback`` when the confidence was below the fallback threshold (migration 0015).
    predicted_intent = Column(String(64))
    confidence = Column(Float)
    latency_ms = Column(Integer)
    channel = Column(String(32), nullable=False, default="whatsapp", server_default="whatsapp")
    external_message_id = Column(String(128))
    status = Column(String(16), nullable=False, default="received", server_default="received")
    created_at = _created_at()  # the partition key on PostgreSQL
    # Inbound: when a process claimed it for its Rasa turn, and what the channel connector needs
    # to replay it after a restart (clinicbot/whatsapp/inbox.py, migration 0004); its turn's
    # failed attempts, when the next may run, and the last failure (migration 0005).
    claimed_at = Column(UTCDateTime)
    channel_data = Column(JSONType)
    attempts = _counter()
    retry_at = Column(UTCDateTime)
    last_error = Column(Text)


class ConversationMessageKey(Base):
    """Dedupe key of a message with an external id, written by a trigger on each insert.

    Also maps a provider id to the message's ``(id, created_at)``, so a delivery/read status
    update finds the row in its partition without searching every month.
    """

    __tablename__ = "conversation_message_keys"
    __table_args__ = (Index(None, "created_at"),)  # retention deletes by age

    channel = Column(String(32), primary_key=True)
    external_message_id = Column(String(128), primary_key=True)
    message_id = Column(BigIntegerPK, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class OutboxMessage(Base):
    """A WhatsApp message to deliver (clinicbot/whatsapp/outbox.py), then its delivery status.

    ``log_message_id``/``log_created_at`` point at its ``conversation_messages`` row (no foreign
    key: that table is partitioned on PostgreSQL); ``in_reply_to`` is the inbound message's
    external id when it answers one. Delivery is retried until ``queued_at`` + the retry budget
    or ``deliver_by``, whichever comes first; then the row is ``dead`` (migration 0005).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        _one_of("status", OUTBOX_STATUSES),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "channel", "phone", "status"),
        Index(None, "channel", "external_message_id"),
        Index(None, "in_reply_to"),
    )

    id = Column(BigIntegerPK, primary_key=True)
    clinic_id = _clinic_id()
    channel = Column(String(32), nullable=False)
    phone = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    options = Column(JSONType)  # a menu: [{"id", "title", "description"?}]
    dedupe_key = Column(String(200), unique=True)
    status = Column(String(16), nullable=False, default="pending", server_default="pending")
    attempts = _counter()
    next_attempt_at = Column(
        UTCDateTime, nullable=False, default=utcnow, server_default=sql_text("CURRENT_TIMESTAMP")
    )
    claimed_until = Column(UTCDateTime)
    last_error = Column(Text)
    external_message_id = Column(String(128))
    in_reply_to = Column(String(128))
    log_message_id = Column(BigInteger)
    log_created_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)
    queued_at = _created_at()
    deliver_by = Column(UTCDateTime)
    created_at = _created_at()
    updated_at = _updated_at()


class Appointment(Base):
    """Local copy of a GestãoDS appointment made or seen through the assistant."""

    __tablename__ = "appointments"
    __table_args__ = (
        _one_of("status", APPOINTMENT_STATUSES),
        CheckConstraint("length(cpf) = 11", name="cpf_length"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        Index(None, "appointment_date", "status"),
        Index(None, "phone", "starts_at"),
        Index(None, "conversation_id"),
        # Per clinic: two clinics' GestãoDS accounts may number their appointments alike.
        UniqueConstraint("clinic_id", "gestaods_id"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    gestaods_id = Column(String(64), nullable=False)
    phone = Column(String(64), nullable=False)
    cpf = Column(String(11), nullable=False)
    patient_name = Column(String(200))
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)
    appointment_date = Column(Date, nullable=False, default=_clinic_date_default("starts_at"))
    status = Column(String(16), nullable=False, default="scheduled", server_default="scheduled")
    first_visit = _flag(False)
    professional = Column(String(200))
    conversation_id = Column(ForeignKey("conversations.id", ondelete="SET NULL"))
    cancel_reason = Column(Text)
    created_at = _created_at()
    updated_at = _updated_at()


class BookingAttempt(Base):
    """A booking sent to GestãoDS, kept until its outcome is known (``services/booking_attempts``).

    A partial unique index allows one open attempt per phone: while one is uncertain the patient
    cannot book again (that could book twice).
    """

    __tablename__ = "booking_attempts"
    __table_args__ = (
        _one_of("status", BOOKING_ATTEMPT_STATUSES),
        CheckConstraint("length(cpf) = 11", name="cpf_length"),
        Index(None, "status", "next_check_at"),
        Index(None, "clinic_id"),
        Index(None, "phone"),
        Index(
            "ux_booking_attempts_open_phone",
            "clinic_id",
            "phone",
            unique=True,
            postgresql_where=sql_text("status IN ('posting', 'uncertain')"),
            sqlite_where=sql_text("status IN ('posting', 'uncertain')"),
        ),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    phone = Column(String(64), nullable=False)
    cpf = Column(String(11), nullable=False)
    patient_name = Column(String(200))
    starts_at = Column(UTCDateTime, nullable=False)
    first_visit = _flag(False)
    status = Column(String(16), nullable=False, default="posting", server_default="posting")
    checks = _counter()
    next_check_at = Column(UTCDateTime, nullable=False)
    check_until = Column(UTCDateTime, nullable=False)
    appointment_id = Column(ForeignKey("appointments.id", ondelete="SET NULL"))
    created_at = _created_at()
    updated_at = _updated_at()
    resolved_at = Column(UTCDateTime)


class WaitingList(Base):
    """A patient waiting for a slot; the position is derived (priority, then arrival).

    ``offered_slot_key`` identifies the slot on offer (e.g. professional and start); a partial
    unique index makes it impossible to offer the same slot to two patients at once.
    """

    __tablename__ = "waiting_list"
    __table_args__ = (
        _one_of("status", WAITING_LIST_STATUSES),
        _one_of("preferred_period", WAITING_LIST_PERIODS),
        CheckConstraint("length(cpf) = 11", name="cpf_length"),
        CheckConstraint("preferred_date_to >= preferred_date_from", name="date_range"),
        Index(None, "priority", "created_at"),
        Index(None, "phone", "status"),
        Index(
            "ux_waiting_list_offered_slot",
            "offered_slot_key",
            unique=True,
            postgresql_where=sql_text("status = 'offered'"),
            sqlite_where=sql_text("status = 'offered'"),
        ),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    phone = Column(String(64), nullable=False)
    cpf = Column(String(11), nullable=False)
    patient_name = Column(String(200))
    specialty = Column(String(100))
    professional = Column(String(200))
    preferred_date_from = Column(Date, nullable=False)
    preferred_date_to = Column(Date, nullable=False)
    preferred_period = Column(String(16), nullable=False, default="any", server_default="any")
    priority = Column(SmallInteger, nullable=False, default=PRIORITY_NORMAL, server_default="2")
    status = Column(String(16), nullable=False, default="waiting", server_default="waiting")
    offered_slot_key = Column(String(200))
    offered_slot_starts_at = Column(UTCDateTime)
    offered_slot_ends_at = Column(UTCDateTime)
    offer_expires_at = Column(UTCDateTime)
    booked_appointment_id = Column(ForeignKey("appointments.id", ondelete="SET NULL"))
    created_at = _created_at()
    updated_at = _updated_at()


class ConversationDashboard(Base):
    """A conversation as the clinic's staff see it: queue for a human, assignee, closing."""

    __tablename__ = "conversation_dashboard"
    __table_args__ = (
        _one_of("status", DASHBOARD_STATUSES),
        Index(None, "status", "created_at"),
        Index(None, "phone"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    conversation_id = Column(ForeignKey("conversations.id", ondelete="SET NULL"))
    phone = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False, default="open", server_default="open")
    assigned_to = Column(String(100))
    reason = Column(Text)
    created_at = _created_at()
    updated_at = _updated_at()
    closed_at = Column(UTCDateTime)


class IdentityCheck(Base):
    """Failed identity checks of one phone on one clinic day (capped: then staff take over)."""

    __tablename__ = "identity_checks"
    __table_args__ = (UniqueConstraint("clinic_id", "phone", "day"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    phone = Column(String(64), nullable=False)
    day = Column(Date, nullable=False)
    failures = Column(Integer, nullable=False, default=0, server_default="0")
    updated_at = _updated_at()


class PatientTransaction(Base):
    """A patient's way through the booking funnel; one timestamp per stage reached."""

    __tablename__ = "patient_transactions"
    __table_args__ = (
        _one_of("stage_current", FUNNEL_STAGES),
        Index(None, "stage_current", "created_at"),
        Index(None, "phone", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    phone = Column(String(64), nullable=False)
    cpf = Column(String(11))
    conversation_id = Column(ForeignKey("conversations.id", ondelete="SET NULL"))
    appointment_id = Column(ForeignKey("appointments.id", ondelete="SET NULL"))
    stage_current = Column(String(16), nullable=False, default="started", server_default="started")
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    identified_at = Column(UTCDateTime)
    slot_chosen_at = Column(UTCDateTime)
    booked_at = Column(UTCDateTime)
    abandoned_at = Column(UTCDateTime)
    # Migration 0010: the day (slot_chosen is the time), the patient's "sim", and the stage an
    # abandoned attempt had reached.
    day_chosen_at = Column(UTCDateTime)
    confirmed_at = Column(UTCDateTime)
    dropped_stage = Column(String(16))
    created_at = _created_at()
    updated_at = _updated_at()


class ChatbotMetrics(Base):
    """Daily figures, one row per clinic-local date, written only by the conversations trigger.

    The ``*_sum``/``*_count`` columns let the trigger keep the averages exact incrementally;
    rates and averages are NULL while their denominator is zero.
    """

    __tablename__ = "chatbot_metrics"

    date = Column(Date, primary_key=True)
    total_conversations = _counter()
    bot_resolved_conversations = _counter()
    successful_appointments = _counter()
    bot_resolution_rate = Column(Float)
    responses_count = _counter()
    response_time_ms_sum = _counter(BigInteger)
    avg_response_time_ms = Column(Float)
    satisfaction_count = _counter()
    satisfaction_sum = _counter()
    satisfaction = Column(Float)
    updated_at = _updated_at()


class Notification(Base):
    """A message to send at ``scheduled_for``; ``dedupe_key`` makes scheduling idempotent."""

    __tablename__ = "notifications"
    __table_args__ = (
        _one_of("kind", NOTIFICATION_KINDS),
        _one_of("status", NOTIFICATION_STATUSES),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index(None, "status", "scheduled_for"),
        Index(None, "phone", "created_at"),
        Index(None, "appointment_id"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    kind = Column(String(16), nullable=False)
    phone = Column(String(64), nullable=False)
    appointment_id = Column(ForeignKey("appointments.id", ondelete="SET NULL"))
    waiting_list_id = Column(ForeignKey("waiting_list.id", ondelete="SET NULL"))
    template_key = Column(String(100))
    scheduled_for = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False, default="pending", server_default="pending")
    attempts = _counter()
    last_error = Column(Text)
    sent_at = Column(UTCDateTime)
    payload = Column(JSONType)
    dedupe_key = Column(String(200), nullable=False, unique=True)
    # A sent reminder/offer that asked "sim ou não?" and has no answer yet (migration 0003).
    awaiting_reply = _flag(False)
    replied_at = Column(UTCDateTime)
    reply = Column(String(16))  # yes | no | lapsed
    created_at = _created_at()
    updated_at = _updated_at()


class MessageTemplate(Base):
    """A text the assistant sends, per key, A/B variant and locale (clinicbot/messages).

    ``category``, ``variables`` (the names its text may use) and ``buttons`` come from the
    repository's defaults; ``version`` counts the clinic's edits (migration 0012).
    """

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("clinic_id", "key", "variant", "locale"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    key = Column(String(100), nullable=False)
    variant = Column(String(50), nullable=False, default="default", server_default="default")
    locale = Column(String(10), nullable=False, default="pt_BR", server_default="pt_BR")
    text = Column(Text, nullable=False)
    active = _flag(True)
    created_at = _created_at()
    updated_at = _updated_at()
    category = Column(
        String(32), nullable=False, default="conversation", server_default="conversation"
    )
    variables = Column(JSONType)  # list of names
    buttons = Column(JSONType)  # [{"title", "payload"}], the template's own
    version = Column(Integer, nullable=False, default=1, server_default=sql_text("1"))
    updated_by = Column(String(100))


class MessageTemplateVersion(Base):
    """Every saved version of a template (the history staff roll back to)."""

    __tablename__ = "message_template_versions"
    __table_args__ = (
        UniqueConstraint(
            "clinic_id",
            "key",
            "variant",
            "locale",
            "version",
            name="uq_message_template_versions_version",
        ),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    key = Column(String(100), nullable=False)
    variant = Column(String(50), nullable=False, default="default", server_default="default")
    locale = Column(String(10), nullable=False, default="pt_BR", server_default="pt_BR")
    version = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)
    buttons = Column(JSONType)
    active = _flag(True)
    edited_by = Column(String(100))
    created_at = _created_at()


class MessageTemplateRevision(Base):
    """A counter per clinic bumped by every template change: caches poll it to reload.

    ``stamp`` is random per change: unlike the counter it cannot repeat after the rows are
    deleted and written again (tests empty the tables), so a cache comparing it is never fooled.
    """

    __tablename__ = "message_template_revisions"

    clinic_id = Column(Integer, ForeignKey("clinics.id"), primary_key=True, autoincrement=False)
    revision = Column(Integer, nullable=False, default=0, server_default=sql_text("0"))
    stamp = Column(String(32), nullable=False, default="", server_default="")
    updated_at = _updated_at()


class SatisfactionFeedback(Base):
    """A 1-5 rating asked after a booking, its answer and optional comment (migration 0012)."""

    __tablename__ = "satisfaction_feedback"
    __table_args__ = (
        _one_of("status", FEEDBACK_STATUSES),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index(None, "phone", "asked_at"),
        Index(None, "clinic_id", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    phone = Column(String(64), nullable=False)
    conversation_id = Column(ForeignKey("conversations.id", ondelete="SET NULL"))
    appointment_id = Column(ForeignKey("appointments.id", ondelete="SET NULL"))
    status = Column(String(16), nullable=False, default="asked", server_default="asked")
    rating = Column(SmallInteger)
    comment = Column(Text)
    asked_at = Column(UTCDateTime, nullable=False)
    rated_at = Column(UTCDateTime)
    # The outbox row of the question now awaiting an answer (the rating, then the comment): a
    # message is an answer only while that question is the last thing sent to the phone.
    prompt_outbox_id = Column(BigInteger)
    answer_message_id = Column(String(128))  # the inbound message last taken as an answer
    created_at = _created_at()


class ApiCallLog(Base):
    """One call to an external API (GestãoDS, Z-API); ``status`` is NULL when no response came."""

    __tablename__ = "api_call_logs"
    __table_args__ = (Index(None, "service", "created_at"),)

    id = Column(BigIntegerPK, primary_key=True)
    clinic_id = _clinic_id()
    service = Column(String(32), nullable=False)
    method = Column(String(8), nullable=False)
    path = Column(String(500), nullable=False)
    status = Column(Integer)
    latency_ms = Column(Integer, nullable=False)
    error = Column(Text)
    cpf_masked = Column(String(20))
    created_at = _created_at()


class ABTest(Base):
    """An experiment over message variants; ``variants`` maps variant name to weight."""

    __tablename__ = "ab_tests"
    __table_args__ = (
        _one_of("status", AB_TEST_STATUSES),
        Index(None, "template_key", "status"),
        UniqueConstraint("clinic_id", "key"),  # names are per clinic
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    key = Column(String(100), nullable=False)
    description = Column(Text)
    variants = Column(JSONType, nullable=False)
    status = Column(String(16), nullable=False, default="draft", server_default="draft")
    started_at = Column(UTCDateTime)
    ended_at = Column(UTCDateTime)
    created_at = _created_at()
    # Migration 0012: the template key whose variants are tested (``variants`` names rows of
    # message_templates), the outcome that counts as a conversion, the exposures needed per
    # variant before a winner is called, and the variant kept as the template when stopped.
    template_key = Column(String(100))
    metric = Column(String(32))
    min_sample = Column(Integer)
    winner = Column(String(50))


class ABTestAssignment(Base):
    """The variant a patient sees in a test; one per patient and test."""

    __tablename__ = "ab_test_assignments"
    __table_args__ = (UniqueConstraint("test_id", "phone"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    test_id = Column(ForeignKey("ab_tests.id", ondelete="CASCADE"), nullable=False)
    phone = Column(String(64), nullable=False)
    variant = Column(String(50), nullable=False)
    assigned_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # Migration 0012: the variant's text was last rendered for the patient (its first
    # characters, to find the outbox row), and first delivered to them (the exposure).
    rendered_at = Column(UTCDateTime)
    rendered_excerpt = Column(String(200))
    exposed_at = Column(UTCDateTime)


class ABTestOutcome(Base):
    """Something that happened to an assigned patient (e.g. ``booked``), with optional value."""

    __tablename__ = "ab_test_outcomes"
    __table_args__ = (Index(None, "test_id", "event"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    test_id = Column(ForeignKey("ab_tests.id", ondelete="CASCADE"), nullable=False)
    assignment_id = Column(ForeignKey("ab_test_assignments.id", ondelete="CASCADE"), nullable=False)
    event = Column(String(50), nullable=False)
    value = Column(Float)
    created_at = _created_at()


BACKUP_STATUSES = ("ok", "failed")
ALERT_STATUSES = ("open", "resolved")


class BackupRun(Base):
    """One finished backup (clinicbot/services/backups); installation-wide, no clinic."""

    __tablename__ = "backup_runs"
    __table_args__ = (_one_of("status", BACKUP_STATUSES), Index(None, "finished_at"))

    id = Column(Integer, primary_key=True)
    started_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False)
    backend = Column(String(16), nullable=False)  # sqlite | postgresql
    archive = Column(String(255))  # the archive, in the backup directory
    size_bytes = Column(BigInteger)
    sha256 = Column(String(64))
    uploaded_to = Column(Text)  # s3://bucket/key when uploaded
    error = Column(Text)


class Alert(Base):
    """An alert raised to the clinic's staff (clinicbot/services/alerts): at most one ``open``
    row per clinic and condition (partial unique index), so an alert is raised once and
    resolved once whatever the number of scheduler instances."""

    __tablename__ = "alerts"
    __table_args__ = (
        _one_of("status", ALERT_STATUSES),
        Index(
            None,
            "clinic_id",
            "condition",
            unique=True,
            postgresql_where=sql_text("status = 'open'"),
            sqlite_where=sql_text("status = 'open'"),
        ),
        Index(None, "clinic_id", "opened_at"),
    )

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    condition = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False, default="open", server_default="open")
    summary = Column(Text, nullable=False)  # what the staff read, pt-BR
    details = Column(JSONType)
    opened_at = Column(UTCDateTime, nullable=False)
    resolved_at = Column(UTCDateTime)
    # {"open": {"email": "<when sent>", ...}, "resolved": {...}}: channels already told.
    notices = Column(JSONType)
    delivery_error = Column(Text)
    updated_at = _updated_at()


# -- Public API and CRM events (migration 0013) ----------------------------------------------

API_SCOPES = ("read", "write", "admin")
WEBHOOK_DELIVERY_STATUSES = ("pending", "sending", "delivered", "dead")


class ApiKey(Base):
    """A clinic's key to the public API (clinicbot/api/keys.py): only its SHA-256 is stored.

    ``prefix`` is the key's public, unique start (shown in lists, used to find the row);
    ``scopes`` is a comma-separated subset of :data:`API_SCOPES`. ``window_*`` is the per-key
    rate limit's fixed one-minute window.
    """

    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "clinic_id"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    label = Column(String(100), nullable=False)  # what staff called it, e.g. "CRM"
    prefix = Column(String(32), nullable=False, unique=True)
    key_hash = Column(String(64), nullable=False)
    scopes = Column(String(64), nullable=False)
    rate_limit_per_minute = Column(Integer)
    window_started_at = Column(UTCDateTime)
    window_count = _counter()
    created_at = _created_at()
    last_used_at = Column(UTCDateTime)
    revoked_at = Column(UTCDateTime)


class ApiIdempotencyKey(Base):
    """A POST made with an ``Idempotency-Key``: its request's hash and the stored response.

    ``status_code`` is NULL while the first request is being handled.
    """

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"), Index(None, "created_at"))

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id()
    api_key_id = Column(ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    idempotency_key = Column(String(200), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer)
    response_body = Column(Text)
    created_at = _created_at()


class WebhookSubscription(Base):
    """A CRM's endpoint for some event types (``["*"]`` for all), signed with ``secret``."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index(None, "clinic_id", "active"),)

    id = Column(Integer, primary_key=True)
    clinic_id = _clinic_id(index=False)
    url = Column(String(2000), nullable=False)
    secret = Column(String(100), nullable=False)
    event_types = Column(JSONType, nullable=False)
    description = Column(String(200))
    active = _flag(True)
    created_at = _created_at()
    updated_at = _updated_at()


class IntegrationEvent(Base):
    """An event for CRMs, written in the transaction of the change it reports (an outbox).

    ``patient_phone`` names the patient the payload is about, so erasure finds it.
    """

    __tablename__ = "integration_events"
    __table_args__ = (Index(None, "clinic_id", "created_at"), Index(None, "patient_phone"))

    id = Column(BigIntegerPK, primary_key=True)
    clinic_id = _clinic_id(index=False)
    event_id = Column(String(40), nullable=False, unique=True)
    event_type = Column(String(40), nullable=False)
    version = Column(Integer, nullable=False)
    payload = Column(JSONType, nullable=False)
    patient_phone = Column(String(64))
    created_at = _created_at()


class WebhookDelivery(Base):
    """One event to one subscription: retried with backoff until delivered or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        _one_of("status", WEBHOOK_DELIVERY_STATUSES),
        Index(None, "status", "next_attempt_at"),
        Index(None, "clinic_id", "id"),
        Index(None, "event_id"),
    )

    id = Column(BigIntegerPK, primary_key=True)
    clinic_id = _clinic_id(index=False)
    delivery_id = Column(String(40), nullable=False, unique=True)
    event_id = Column(ForeignKey("integration_events.id", ondelete="CASCADE"), nullable=False)
    subscription_id = Column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    status = Column(String(16), nullable=False, default="pending", server_default="pending")
    attempts = _counter()
    next_attempt_at = Column(
        UTCDateTime, nullable=False, default=utcnow, server_default=sql_text("CURRENT_TIMESTAMP")
    )
    claimed_until = Column(UTCDateTime)
    queued_at = _created_at()
    last_status_code = Column(Integer)
    last_error = Column(Text)
    delivered_at = Column(UTCDateTime)
    created_at = _created_at()
    updated_at = _updated_at()


# The clinic-local days the metrics count by, on the row's own clinic's wall clock. At flush
# time, not when the timestamp is set: a row's clinic is often stamped only then
# (clinicbot.tenancy.scope). With no timestamp yet, the column default computes the day.
@event.listens_for(Conversation, "before_insert")
@event.listens_for(Conversation, "before_update")
def _conversation_day(_mapper: Any, connection: Connection, row: Conversation) -> None:
    if _moved(row, "started_at"):
        row.started_on = clinic_date(row.started_at, _clinic_tz(connection, row.clinic_id))


@event.listens_for(Appointment, "before_insert")
@event.listens_for(Appointment, "before_update")
def _appointment_day(_mapper: Any, connection: Connection, row: Appointment) -> None:
    if _moved(row, "starts_at"):
        row.appointment_date = clinic_date(row.starts_at, _clinic_tz(connection, row.clinic_id))


def _moved(row: Any, timestamp: str) -> bool:
    """Whether a row being flushed has a new ``timestamp`` (or a new clinic) to date."""
    if getattr(row, timestamp) is None:
        return False
    state = inspect(row)
    return state.pending or any(
        state.attrs[name].history.has_changes() for name in (timestamp, "clinic_id")
    )
