"""Masking of personal data (CPF, phone, name, e-mail) before anything is logged."""

from __future__ import annotations

import re

from clinicbot.ptbr.cpf import CPF_LENGTH, WRITTEN_CPF, cpf_digits

_CPF_IN_TEXT = re.compile(rf"\b{WRITTEN_CPF}\b")
_PHONE_IN_TEXT = re.compile(r"\b\d{12,13}\b")


def mask_cpf(cpf: str | None) -> str:
    """``39053344705`` → ``***.***.*47-05``: enough to tell two patients apart in a log."""
    digits = cpf_digits(cpf or "")
    if len(digits) != CPF_LENGTH:
        return "***"
    return f"***.***.*{digits[7:9]}-{digits[9:]}"


def mask_phone(phone: str | None) -> str:
    """``5531988887777`` → ``55319****7777``; non-numeric ids (``…@lid``) keep only the tail."""
    value = phone or ""
    if len(value) <= 4:
        return "****"
    return f"{value[:5]}****{value[-4:]}" if len(value) > 9 else f"****{value[-4:]}"


def mask_name(name: str | None) -> str:
    """``Ana Lima`` → ``A. L.``."""
    parts = (name or "").split()
    return " ".join(f"{part[0]}." for part in parts) or "***"


def mask_email(email: str | None) -> str:
    """``ana@exemplo.com`` → ``a***@exemplo.com``."""
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_text(text: str | None) -> str:
    """Mask CPFs and phone numbers wherever they appear in free text (a patient's message)."""
    masked = _CPF_IN_TEXT.sub(lambda match: mask_cpf(match.group()), text or "")
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), masked)
