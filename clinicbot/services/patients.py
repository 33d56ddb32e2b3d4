"""Reading what a patient types when registering: full name, birth date, e-mail."""

from __future__ import annotations

import re
from datetime import date

from clinicbot.ptbr.names import title_case_name
from clinicbot.ptbr.text import fold_accents
from clinicbot.ptbr.words import MONTHS

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b")
_WRITTEN_DATE = re.compile(r"\b(\d{1,2})\s+de\s+([a-zç]+)\s+de\s+(\d{4})\b", re.IGNORECASE)


def parse_full_name(text: str) -> str | None:
    """A name with at least two words and no digits, title-cased; None otherwise."""
    name = " ".join(
        re.sub(
            r"^(meu nome é|meu nome e|me chamo|sou o|sou a)\s+",
            "",
            text.strip(),
            flags=re.IGNORECASE,
        ).split()
    )
    words = [word for word in name.split() if any(ch.isalpha() for ch in word)]
    if len(words) < 2 or any(ch.isdigit() for ch in name) or "@" in name:
        return None
    return title_case_name(name)


def parse_birth_date(text: str, today: date) -> date | None:
    """``02/09/1991``, ``2-9-91`` or ``2 de setembro de 1991``; None unless plausible."""
    numeric = _NUMERIC_DATE.search(text)
    written = _WRITTEN_DATE.search(text.lower())
    try:
        if numeric:
            day, month, year = (int(part) for part in numeric.groups())
            if year < 100:
                year += 1900 if year > today.year % 100 else 2000
            born = date(year, month, day)
        elif written and (month_number := MONTHS.get(fold_accents(written.group(2)))):
            born = date(int(written.group(3)), month_number, int(written.group(1)))
        else:
            return None
    except ValueError:
        return None
    return born if date(1900, 1, 1) <= born <= today else None


def parse_email(text: str) -> str | None:
    match = _EMAIL.search(text)
    return match.group().lower() if match else None
