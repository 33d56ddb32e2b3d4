"""Every text the patient reads that is not a reply inside a Rasa turn.

The rule: what the assistant says *in* a conversation turn is a response of ``domain.yml``
(``utter_…``, uttered by key with named variables); what is sent *outside* a turn lives here:

* proactive messages (reminders, confirmations, cancellations, waiting-list offers): a key each,
  with the pt-BR default below. Like ``domain.yml``'s responses they are templates the clinic
  edits (:mod:`clinicbot.messages`: seeded into ``message_templates``, rendered by
  :func:`clinicbot.messages.rendering.render`). Placeholders: ``{nome}`` (first name),
  ``{dia}`` (``sexta-feira, 28/11``), ``{hora}`` (``10:00``), ``{minutos}`` (how long an offer is
  held).
* the channel's own texts: the reply to a message it cannot read, the apology for a message it
  could not answer and the notice to a patient who writes too fast are the defaults of editable
  templates too (``channel.*`` in :mod:`clinicbot.messages.defaults`); the label of WhatsApp's
  option lists and the notice staff get when they hand a patient back are fixed constants.
"""

from __future__ import annotations

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

# The channel's texts (the first three are the defaults of the channel.* templates).
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
