"""Every text the patient reads that is not a reply inside a Rasa turn.

The rule: what the assistant says *in* a conversation turn is a response of ``domain.yml``
(``utter_…``, uttered by key with named variables); what is sent *outside* a turn lives here:

* proactive messages (reminders, confirmations, cancellations, waiting-list offers): a key each,
  editable in ``message_templates``. Every key has a pt-BR default below;
  :func:`seed_default_templates` copies the missing ones into the table at start (never
  overwriting what the clinic edited), and :func:`render` falls back to the default when a row is
  missing or inactive, so a message always goes out. Placeholders: ``{nome}`` (first name),
  ``{dia}`` (``sexta-feira, 28/11``), ``{hora}`` (``10:00``), ``{minutos}`` (how long an offer is
  held). An unknown placeholder is left as written.
* the channel's own texts (the reply to a message it cannot read, the apology for a message it
  could not answer, the notice to a patient who writes too fast, the label of WhatsApp's option
  lists) and the notice staff get when they hand a patient back: fixed constants for now.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinicbot.db.models import MessageTemplate

LOCALE = "pt_BR"
DEFAULT_VARIANT = "default"

REMINDER = "notification.reminder"
REMINDER_CONFIRMED = "notification.reminder_confirmed"
CONFIRMATION = "notification.confirmation"
CANCELLATION = "notification.cancellation"
WAITLIST_OFFER = "notification.waitlist_offer"
# The outcome of a booking GestãoDS did not answer in time (clinicbot/services/booking_checks.py).
BOOKING_CONFIRMED = "booking.confirmed_after_check"
BOOKING_NOT_MADE = "booking.not_made"
BOOKING_UNRESOLVED = "booking.unresolved"

DEFAULT_TEMPLATES: dict[str, str] = {
    REMINDER: (
        "Oi, {nome}! 😊 Passando para lembrar da sua consulta {dia}, às {hora}.\n"
        "Você confirma presença? Responda *sim* para confirmar ou *não* se precisar "
        "remarcar ou cancelar."
    ),
    REMINDER_CONFIRMED: (
        "Oi, {nome}! 😊 Só lembrando: sua consulta é {dia}, às {hora}. "
        "Chegue uns 15 minutinhos antes. Até já!"
    ),
    CONFIRMATION: (
        "Oi, {nome}! ✅ Sua consulta está marcada para {dia}, às {hora}. "
        "Vou te lembrar um dia antes. Até lá!"
    ),
    CANCELLATION: (
        "Oi, {nome}. Sua consulta de {dia}, às {hora} foi cancelada. "
        "Se quiser marcar outro horário, é só me chamar por aqui. 💙"
    ),
    WAITLIST_OFFER: (
        "Oi, {nome}! Boa notícia: surgiu uma vaga {dia}, às {hora}. 🎉\n"
        "Quer ficar com ela? Responda *sim* ou *não*. "
        "Seguro a vaga para você por {minutos} minutos."
    ),
    BOOKING_CONFIRMED: (
        "Pronto! ✅ Confirmei com a agenda: sua consulta está marcada para {dia}, "
        "às {hora}.\nChegue uns 15 minutinhos antes e traga um documento com foto. Até lá!"
    ),
    BOOKING_NOT_MADE: (
        "Não deu certo 😕 A agenda não confirmou sua consulta de {dia}, às {hora}, e ela não "
        "foi marcada.\n"
        "Quer tentar de novo? É só me dizer *quero marcar uma consulta*."
    ),
    BOOKING_UNRESOLVED: (
        "Não consegui confirmar com a agenda se sua consulta de {dia}, às {hora}, "
        "ficou marcada. A equipe da clínica vai verificar e te avisa por aqui, tá bem?"
    ),
}

# Fixed texts (not in message_templates yet).
# The reply to an audio, image or sticker without caption; the channel sends it without Rasa.
ONLY_TEXT_REPLY = (
    "Por enquanto só consigo ler mensagens de texto 🙂 Pode me escrever o que precisa?"
)
# The one notice a patient gets when writing faster than the assistant answers (a burst of
# messages over the per-phone rate limit, clinicbot/whatsapp/throttle.py).
TOO_MANY_MESSAGES = (
    "Recebi muitas mensagens seguidas 😅 Vou responder com calma: "
    "me mande uma coisa de cada vez, por favor."
)
# WhatsApp option lists (numbered menus): the list's title and the button that opens it.
LIST_TITLE = "Opções"
LIST_BUTTON = "Ver opções"
# The one apology a patient gets when the assistant could not answer their message (its turn kept
# failing: clinicbot/whatsapp/turns.py); the operators are alerted at the same time.
TURN_FAILED_APOLOGY = (
    "Desculpe, tive um problema para responder sua mensagem 😕 Já avisei a equipe; "
    "se for urgente, ligue para a clínica."
)
# What staff may tell the patient when they hand the conversation back to the assistant.
BACK_TO_BOT = "A recepção encerrou o atendimento por aqui 😊 Se precisar de algo, é só me chamar."


class _KeepUnknown(dict[str, str]):
    """``str.format_map`` mapping that leaves ``{unknown}`` placeholders untouched."""

    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def render(
    session: Session,
    key: str,
    values: Mapping[str, object],
    *,
    variant: str = DEFAULT_VARIANT,
    locale: str = LOCALE,
) -> str:
    """The text of ``key`` with ``values`` filled in (the active row, else the default)."""
    text = session.execute(
        select(MessageTemplate.text).where(
            MessageTemplate.key == key,
            MessageTemplate.variant == variant,
            MessageTemplate.locale == locale,
            MessageTemplate.active.is_(True),
        )
    ).scalar_one_or_none()
    if text is None:
        text = DEFAULT_TEMPLATES[key]
    return text.format_map(_KeepUnknown({name: str(value) for name, value in values.items()}))


def seed_default_templates(session: Session) -> None:
    """Insert the default texts that have no row yet; an existing row (the clinic's edit) wins.

    ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite) makes it safe to run at every start, from
    several processes at once.
    """
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [
        {"key": key, "variant": DEFAULT_VARIANT, "locale": LOCALE, "text": text}
        for key, text in DEFAULT_TEMPLATES.items()
    ]
    session.execute(insert(MessageTemplate).values(rows).on_conflict_do_nothing())
