"""Rasa sender ids namespaced per clinic: one phone writing to two clinics has two
conversations (two trackers, two locks, two histories).

The default clinic keeps the bare phone as its sender id, so conversations stored before there
were clinics go on as they were; any other clinic's is ``c<id>:<phone>``. Phones never contain
``:`` (E.164 digits or ``…@lid`` ids), so the two forms cannot collide.
"""

from __future__ import annotations

import re

from clinicbot.tenancy import DEFAULT_CLINIC_ID

_NAMESPACED = re.compile(r"c(?P<clinic>[1-9][0-9]*):(?P<phone>.+)")


def sender_id(clinic_id: int, phone: str) -> str:
    """The Rasa sender id of ``phone``'s conversation with ``clinic_id``."""
    return phone if clinic_id == DEFAULT_CLINIC_ID else f"c{clinic_id}:{phone}"


def split_sender_id(value: str) -> tuple[int, str]:
    """``(clinic_id, phone)`` of a sender id made by :func:`sender_id`."""
    match = _NAMESPACED.fullmatch(value)
    if match is None:
        return DEFAULT_CLINIC_ID, value
    return int(match["clinic"]), match["phone"]


def phone_of(value: str) -> str:
    """The patient's phone in a sender id (what the actions call the patient's phone)."""
    return split_sender_id(value)[1]
