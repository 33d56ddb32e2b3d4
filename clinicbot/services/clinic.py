"""The clinic's facts (``clinic.yml``) and the FAQ answers built from them.

The answers' wording is in ``domain.yml`` (``utter_faq_…``); this module picks the response and
fills its variables with the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from clinicbot.settings import PROJECT_ROOT

CLINIC_FILE = PROJECT_ROOT / "clinic.yml"


@dataclass(frozen=True)
class Clinic:
    name: str
    address: str
    directions: str
    maps_url: str
    phone: str
    opening_hours: list[str]
    insurers: list[str]
    prices: list[str]
    payment: str
    specialties: list[str]
    human_hours: str
    asks_first_visit: bool = True  # see clinic.yml
    # periodo value -> "HH:MM-HH:MM" (see clinic.yml and clinicbot.services.time_windows)
    time_windows: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_clinic(path: Path = CLINIC_FILE) -> Clinic:
    return Clinic(**yaml.safe_load(path.read_text(encoding="utf-8")))


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {item}" for item in items)


@dataclass(frozen=True)
class FaqReply:
    """The ``utter_faq_…`` response of ``domain.yml`` that answers an FAQ, and its variables."""

    response: str
    variables: dict[str, str]


def faq_reply(intent: str, clinic: Clinic, asked_insurer: str | None = None) -> FaqReply | None:
    """The answer to an FAQ intent, or None when ``intent`` is not an FAQ."""
    if intent == "horario_funcionamento":
        return FaqReply(
            "utter_faq_horario_funcionamento", {"horarios": _bullets(clinic.opening_hours)}
        )
    if intent == "localizacao":
        return FaqReply(
            "utter_faq_localizacao",
            {"endereco": clinic.address, "como_chegar": clinic.directions, "mapa": clinic.maps_url},
        )
    if intent == "convenios":
        insurers = _bullets(clinic.insurers)
        if asked_insurer:
            accepted = {name.lower(): name for name in clinic.insurers}
            if asked_insurer.lower() in accepted:
                return FaqReply(
                    "utter_faq_convenio_aceito", {"convenio": accepted[asked_insurer.lower()]}
                )
            return FaqReply(
                "utter_faq_convenio_recusado", {"convenio": asked_insurer, "convenios": insurers}
            )
        return FaqReply("utter_faq_convenios", {"convenios": insurers})
    if intent == "valores":
        return FaqReply(
            "utter_faq_valores", {"valores": _bullets(clinic.prices), "pagamento": clinic.payment}
        )
    if intent == "especialidades":
        return FaqReply(
            "utter_faq_especialidades", {"especialidades": _bullets(clinic.specialties)}
        )
    return None
