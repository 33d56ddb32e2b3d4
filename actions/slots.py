"""Reading the patient's last message, and the slots every journey shares."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from clinicbot.ptbr import cpf, dates
from clinicbot.services.choices import Option

JOURNEY_SLOTS = (
    "dia_escolhido",
    "dias_preferidos",
    "horario_escolhido",
    "periodo_preferido",
    "primeira_consulta",
    "confirmacao",
    "opcoes",
    "agendamentos",
    "agendamento_escolhido",
    "motivo_cancelamento",
)


def entities(tracker: Tracker) -> list[dict[str, Any]]:
    return list(tracker.latest_message.get("entities") or [])


def text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def latest_date(tracker: Tracker) -> date | None:
    """The ISO date the NLU read in the last message (``data`` entity), if any."""
    for value in tracker.get_latest_entity_values("data"):
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            continue
    return None


def latest_range(tracker: Tracker) -> dict[str, str] | None:
    """The range of days the NLU read in the last message (``{"from": ISO, "to": ISO}``)."""
    for value in tracker.get_latest_entity_values("data"):
        days = date_range(value)
        if days is not None:
            return {"from": days[0].isoformat(), "to": days[1].isoformat()}
    return None


def date_range(value: Any) -> tuple[date, date] | None:
    """``(first, last)`` of a range value (an entity's or the ``dias_preferidos`` slot's)."""
    if not isinstance(value, dict):
        return None
    try:
        return date.fromisoformat(str(value["from"])), date.fromisoformat(str(value["to"]))
    except (KeyError, ValueError):
        return None


def names_bare_weekday(tracker: Tracker) -> bool:
    """Whether the last message's date was a weekday named alone ("prefiro terça")."""
    message = text(tracker)
    return any(
        entity.get("entity") == "data"
        and dates.names_bare_weekday(message[entity.get("start", 0) : entity.get("end", 0)])
        for entity in entities(tracker)
    )


def latest_cpf(tracker: Tracker) -> str | None:
    """The CPF digits in the last message: the NLU entity, else a CPF-shaped number in the text."""
    for value in tracker.get_latest_entity_values("cpf"):
        digits = cpf.cpf_digits(str(value))
        if len(digits) == cpf.CPF_LENGTH:
            return digits
    return cpf.find_cpf(text(tracker))


def menu(options: list[Option]) -> list[dict[str, str]]:
    """Buttons whose payload picks the option whatever the NLU makes of the label."""
    return [
        {"title": option["label"], "payload": f'/escolher_opcao{{"numero_opcao": {index}}}'}
        for index, option in enumerate(options, 1)
    ]


def reset_journey() -> list[EventType]:
    return [SlotSet(slot, None) for slot in JOURNEY_SLOTS]


def stop_form() -> list[EventType]:
    return [ActiveLoop(None), SlotSet("requested_slot", None)]
