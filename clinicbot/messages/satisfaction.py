"""The satisfaction survey: a 1-5 rating asked after a booking, then an optional comment.

* **Asking** (:func:`ask_due`, a clinic-service job): some time after a booking made through
  the assistant (``FEEDBACK_DELAY_MINUTES``), never during quiet hours, at most once per
  patient per ``FEEDBACK_EVERY_DAYS``. The question is an option list on Z-API and numbered
  text elsewhere; option N is the rating N.
* **Answers** (:func:`take_answer`, before the Rasa turn): a message is an answer only while the
  survey's question is the last thing sent to the phone, so a "1" that picks a day from a menu
  is never read as a rating. Ratings are read without the NLU: "5", "nota 4", "4/5", "⭐⭐⭐⭐",
  "👍", "ótimo", "péssimo". A message that is not a rating goes to Rasa as usual.
* **Storing**: ``satisfaction_feedback`` and ``conversations.satisfaction`` (whose trigger
  averages it per day into ``chatbot_metrics``). A rating at or under
  ``FEEDBACK_ALERT_AT_MOST`` is logged as an alert for the staff (``clinicbot.alerts``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Conversation, OutboxMessage, SatisfactionFeedback
from clinicbot.db.types import utcnow
from clinicbot.integrations.events import emit_event
from clinicbot.messages.defaults import (
    FEEDBACK_ASK,
    FEEDBACK_ASK_COMMENT,
    FEEDBACK_OPTIONS,
    FEEDBACK_THANKS,
)
from clinicbot.messages.rendering import render
from clinicbot.pii import mask_phone
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.ptbr.replies import declines_to_say, says_no
from clinicbot.ptbr.text import normalized_form
from clinicbot.services.notifications.policy import ACTIVE_APPOINTMENT, NotificationPolicy
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy.scope import acting_clinic
from clinicbot.whatsapp.formatting import numbered_menu
from clinicbot.whatsapp.outbox import enqueue_text

logger = logging.getLogger(__name__)
alert_logger = logging.getLogger("clinicbot.alerts")

ANSWER_WINDOW = timedelta(hours=24)  # after it an unanswered survey is left alone
BOOKINGS_LOOKBACK = timedelta(days=2)  # older bookings are not asked about any more
MAX_COMMENT_CHARS = 2000

_STARS = re.compile(r"[⭐★🌟]")
_PREFIX = re.compile(r"^(nota|minha nota e|dou|daria)\s+")
# "5", "4 / 5", "4 de 5", "3 estrelas", "5 excelente" (a tapped option's label after its number).
_NUMBER = re.compile(r"([1-5])(?: (?:/|de) 5)?(?: estrelas?)?(?: (?P<label>.+))?")
_WORDS: dict[str, int] = {
    **dict.fromkeys(
        (
            "excelente",
            "otimo",
            "otima",
            "perfeito",
            "maravilhoso",
            "adorei",
            "muito bom",
            "sensacional",
            "nota 10",
            "top",
            "amei",
            "cinco",
        ),
        5,
    ),
    **dict.fromkeys(("bom", "boa", "gostei", "legal", "quatro", "👍"), 4),
    **dict.fromkeys(("regular", "mais ou menos", "razoavel", "medio", "tres"), 3),
    **dict.fromkeys(("ruim", "dois", "👎"), 2),
    **dict.fromkeys(("muito ruim", "pessimo", "pessima", "horrivel", "terrivel", "odiei", "um"), 1),
}


def parse_rating(text: str) -> int | None:
    """The 1-5 rating ``text`` gives, or None when it is not (only) a rating."""
    stripped = text.strip()
    stars = _STARS.findall(stripped)
    if stars and not _STARS.sub("", stripped).replace("\ufe0f", "").strip():
        return min(len(stars), 5)
    form = _PREFIX.sub("", normalized_form(stripped))
    if form in _WORDS:
        return _WORDS[form]
    number = _NUMBER.fullmatch(form)
    if number is not None and (number["label"] is None or number["label"] in _WORDS):
        return int(number[1])
    return None


@dataclass(frozen=True)
class FeedbackPolicy:
    enabled: bool
    delay: timedelta
    every: timedelta
    alert_at_most: int
    quiet: NotificationPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackPolicy:
        return cls(
            enabled=settings.feedback_enabled,
            delay=timedelta(minutes=settings.feedback_delay_minutes),
            every=timedelta(days=settings.feedback_every_days),
            alert_at_most=settings.feedback_alert_at_most,
            quiet=NotificationPolicy.from_settings(settings),
        )


def _question(session: Session, phone: str) -> tuple[str, list[dict[str, str]]]:
    text = render(session, FEEDBACK_ASK, {}, phone=phone).text
    # Ascending, so that the number a patient types is the rating.
    titles = [option.split(" - ", 1)[1] for option in reversed(FEEDBACK_OPTIONS)]
    options = [{"id": f"nota:{index}", "title": title} for index, title in enumerate(titles, 1)]
    return text, options


def ask_due(
    session: Session, policy: FeedbackPolicy, *, now: datetime, clinic_id: int | None = None
) -> int:
    """Ask about the bookings due for the survey; how many were asked."""
    clinic_id = acting_clinic(session, clinic_id)
    if not policy.enabled or policy.quiet.is_quiet(now):
        return 0
    asked_about = select(SatisfactionFeedback.appointment_id).where(
        SatisfactionFeedback.appointment_id.is_not(None)
    )
    due = session.execute(
        select(Appointment)
        .where(
            Appointment.created_at <= now - policy.delay,
            Appointment.created_at >= now - BOOKINGS_LOOKBACK,
            Appointment.status.in_(ACTIVE_APPOINTMENT),
            Appointment.id.not_in(asked_about),
        )
        .order_by(Appointment.created_at)
    ).scalars()
    asked = 0
    for appointment in due:
        phone = normalize_phone(appointment.phone)
        recent = session.execute(
            select(SatisfactionFeedback.id).where(
                SatisfactionFeedback.phone == phone,
                SatisfactionFeedback.asked_at > now - policy.every,
            )
        ).first()
        if recent is not None:
            continue
        text, options = _question(session, phone)
        outbox_id = enqueue_text(
            session,
            phone,
            numbered_menu(text, options),
            options=options,
            dedupe_key=f"feedback:{appointment.id}",
            deliver_by=now + ANSWER_WINDOW,
        )
        session.add(
            SatisfactionFeedback(
                clinic_id=clinic_id,
                phone=phone,
                appointment_id=appointment.id,
                conversation_id=appointment.conversation_id,
                asked_at=now,
                prompt_outbox_id=outbox_id,
            )
        )
        session.flush()
        asked += 1
        logger.info("satisfaction survey sent to %s", mask_phone(phone))
    return asked


def _open_survey(session: Session, phone: str, now: datetime) -> SatisfactionFeedback | None:
    survey: SatisfactionFeedback | None = session.execute(
        select(SatisfactionFeedback)
        .where(
            SatisfactionFeedback.phone == phone,
            SatisfactionFeedback.status.in_(("asked", "rated")),
            SatisfactionFeedback.asked_at >= now - ANSWER_WINDOW,
        )
        .order_by(SatisfactionFeedback.asked_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return survey


def take_answer(
    session: Session,
    *,
    phone: str,
    text: str,
    message_id: str,
    channel: str,
    now: datetime,
    policy: FeedbackPolicy,
) -> bool:
    """Whether ``text`` answered the phone's open survey (then stored and replied to, in this
    transaction). Running it again for the same message changes nothing and says True."""
    phone = normalize_phone(phone)
    survey = _open_survey(session, phone, now)
    if survey is None:
        return False
    if survey.answer_message_id == message_id:
        return True
    last_sent = session.execute(
        select(func.max(OutboxMessage.id)).where(OutboxMessage.phone == phone)
    ).scalar()
    if survey.prompt_outbox_id is None or last_sent != survey.prompt_outbox_id:
        return False  # the conversation moved on since the question
    if survey.status == "asked":
        rating = parse_rating(text)
        if rating is None:
            return False
        _rate(session, survey, rating, now, policy)
        reply_key = FEEDBACK_ASK_COMMENT
    else:
        if not (says_no(text) or declines_to_say(text)):
            survey.comment = text.strip()[:MAX_COMMENT_CHARS]
        survey.status = "commented"
        reply_key = FEEDBACK_THANKS
    survey.answer_message_id = message_id
    reply = render(session, reply_key, {}, phone=phone).text
    reply_id = enqueue_text(session, phone, reply, channel=channel, in_reply_to=message_id)
    survey.prompt_outbox_id = reply_id if reply_key == FEEDBACK_ASK_COMMENT else None
    return True


def _rate(
    session: Session,
    survey: SatisfactionFeedback,
    rating: int,
    now: datetime,
    policy: FeedbackPolicy,
) -> None:
    survey.rating = rating
    survey.rated_at = now
    survey.status = "rated"
    conversation = None
    if survey.conversation_id is not None:
        conversation = session.get(Conversation, survey.conversation_id)
    if conversation is None:
        conversation = session.execute(
            select(Conversation)
            .where(Conversation.phone == survey.phone)
            .order_by(Conversation.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()
    if conversation is not None:
        conversation.satisfaction = rating
        survey.conversation_id = conversation.id
        emit_event(
            session,
            "feedback.received",
            {
                "conversation_id": conversation.id,
                "phone": survey.phone,
                "rating": rating,
                "comment": None,
            },
            clinic_id=survey.clinic_id,
        )
    if rating <= policy.alert_at_most:
        alert_logger.warning(
            "alert: low satisfaction rating %d from %s (satisfaction_feedback %d)",
            rating,
            mask_phone(survey.phone),
            survey.id,
        )


def answered_survey(
    engine: Engine | None, *, phone: str, text: str, message_id: str, channel: str
) -> bool:
    """:func:`take_answer` in its own transaction, for the turn pipeline
    (:mod:`clinicbot.whatsapp.turns`): True when the message needs no Rasa turn."""
    with session_scope(engine) as session:
        return take_answer(
            session,
            phone=phone,
            text=text,
            message_id=message_id,
            channel=channel,
            now=utcnow(),
            policy=FeedbackPolicy.from_settings(get_settings()),
        )
