"""The clinic's facts (``clinic.yml``) and the FAQ answers built from them."""

from __future__ import annotations

from dataclasses import dataclass
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


@lru_cache(maxsize=4)
def load_clinic(path: Path = CLINIC_FILE) -> Clinic:
    return Clinic(**yaml.safe_load(path.read_text(encoding="utf-8")))


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {item}" for item in items)


def faq_answer(intent: str, clinic: Clinic, asked_insurer: str | None = None) -> str | None:
    """The answer to an FAQ intent, or None when ``intent`` is not an FAQ."""
    if intent == "horario_funcionamento":
        return f"Nosso horário de atendimento:\n{_bullets(clinic.opening_hours)}"
    if intent == "localizacao":
        return f"Estamos na {clinic.address}.\n{clinic.directions}\nMapa: {clinic.maps_url}"
    if intent == "convenios":
        if asked_insurer:
            accepted = {name.lower(): name for name in clinic.insurers}
            if asked_insurer.lower() in accepted:
                return f"Sim, atendemos {accepted[asked_insurer.lower()]} 😊"
            return (
                f"Infelizmente não atendemos {asked_insurer}. Atendemos:\n"
                f"{_bullets(clinic.insurers)}\ne também consultas particulares."
            )
        return f"Atendemos estes convênios:\n{_bullets(clinic.insurers)}\ne consultas particulares."
    if intent == "valores":
        return f"{_bullets(clinic.prices)}\nPagamento: {clinic.payment}"
    if intent == "especialidades":
        return f"Atendemos estas especialidades:\n{_bullets(clinic.specialties)}"
    return None
