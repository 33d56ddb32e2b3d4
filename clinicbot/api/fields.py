"""Reading and checking the fields of API requests (400 problems naming the field)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from clinicbot.api.problems import bad_request
from clinicbot.ptbr.cpf import cpf_digits, is_valid_cpf
from clinicbot.ptbr.phones import normalize_phone

_PHONE = re.compile(r"^\d{10,15}$")


def _invalid(field: str, english: str, portuguese: str) -> Exception:
    return bad_request(f"{field}: {english}", f"{field}: {portuguese}", invalid_field=field)


def phone(value: Any, field: str = "phone") -> str:
    digits = normalize_phone(str(value or ""))
    if not _PHONE.match(digits):
        raise _invalid(
            field,
            "a phone with country and area code, e.g. 5511987654321.",
            "um telefone com DDI e DDD, por exemplo 5511987654321.",
        )
    return digits


def cpf(value: Any, field: str = "cpf") -> str:
    if not isinstance(value, str) or not is_valid_cpf(value):
        raise _invalid(field, "a valid CPF.", "um CPF válido.")
    return cpf_digits(value)


def instant(value: Any, field: str) -> datetime:
    """An ISO 8601 date-time with an offset, in UTC."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid(
            field,
            "an ISO 8601 date-time with offset, e.g. 2026-12-08T14:00:00-03:00.",
            "uma data e hora ISO 8601 com fuso, por exemplo 2026-12-08T14:00:00-03:00.",
        )
    return moment.astimezone(timezone.utc)


def day(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(
            field, "an ISO date, e.g. 2026-12-08.", "uma data ISO, por exemplo 2026-12-08."
        ) from None


def optional_text(value: Any, field: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(
            field, f"text of at most {limit} characters.", f"texto de até {limit} caracteres."
        )
    return value.strip() or None


def choice(value: Any, field: str, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        listed = ", ".join(allowed)
        raise _invalid(field, f"one of {listed}.", f"um de {listed}.")
    return str(value)
