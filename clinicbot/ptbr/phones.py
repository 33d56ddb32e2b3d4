"""Phone numbers as one patient identity: E.164 digits, whichever variant WhatsApp sends."""

from __future__ import annotations

import phonenumbers

# Brazilian mobiles gained a leading 9 in 2012-2016; WhatsApp ids still arrive without it.
_BR_MOBILE_WITHOUT_NINE = 12  # 55 + DDD (2) + 8 digits


def normalize_phone(raw: str) -> str:
    """Return the E.164 digits (no ``+``) of a WhatsApp phone, or the raw id if it isn't one.

    ``5531988887777``, ``+55 (31) 98888-7777`` and the old ``553188887777`` (no ninth digit) all
    become ``5531988887777``. Ids that are not phone numbers (``…@lid``, groups) are returned
    unchanged: they still identify one chat.
    """
    value = raw.strip()
    if "@" in value or value.endswith("-group"):
        return value
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits:
        return value
    if digits.startswith("55") and len(digits) == _BR_MOBILE_WITHOUT_NINE and digits[4] in "6789":
        digits = f"{digits[:4]}9{digits[4:]}"
    try:
        parsed = phonenumbers.parse(f"+{digits}")
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_possible_number(parsed):
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


_BR_NATIONAL_LENGTHS = (10, 11)  # DDD (2) + 8 or 9 digits, as agendas register them


def same_phone(whatsapp_id: str, registered: str | None) -> bool:
    """Whether a WhatsApp sender is the phone an agenda registered, ninth digit or not.

    Agendas keep numbers in national form ("31988887777", "(31) 8888-7777"); WhatsApp sends
    E.164 digits with or without the ninth digit.
    """
    digits = "".join(ch for ch in registered or "" if ch.isdigit())
    if not digits:
        return False
    if len(digits) in _BR_NATIONAL_LENGTHS:
        digits = f"55{digits}"
    return normalize_phone(whatsapp_id) == normalize_phone(digits)
