"""Which of the options the assistant just listed a patient's answer picks.

Patients answer a numbered list with the number ("2"), an ordinal ("a segunda"), the item itself
("terça", "15/12", "às 10h") or by tapping a WhatsApp list row (which arrives as the option's
number). NLU entities come first; the raw text is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# {"value": what the choice stores, "label": what the patient saw, "starts_at"?: ISO datetime
#  when "value" is not itself a date or datetime (an appointment id)}
Option = dict[str, str]

_BARE_NUMBER = re.compile(r"^\s*(?:op[cç][aã]o\s*)?(\d{1,2})\s*[.)º°ªo]?\s*$", re.IGNORECASE)


def option_number(entities: Sequence[dict[str, Any]], text: str) -> int | None:
    """The option number the patient gave, from the ``numero_opcao`` entity or a bare number."""
    for entity in entities:
        if entity.get("entity") == "numero_opcao":
            try:
                return int(entity["value"])
            except (KeyError, TypeError, ValueError):
                continue
    match = _BARE_NUMBER.match(text or "")
    return int(match.group(1)) if match else None


def entity_values(entities: Sequence[dict[str, Any]], name: str) -> list[str]:
    return [str(entity.get("value")) for entity in entities if entity.get("entity") == name]


def pick_option(
    options: Sequence[Option], entities: Sequence[dict[str, Any]], text: str
) -> Option | None:
    """The chosen option, or None when the answer does not identify exactly one."""
    number = option_number(entities, text)
    if number is not None:
        return options[number - 1] if 1 <= number <= len(options) else None

    wanted_days = entity_values(entities, "data")
    wanted_times = entity_values(entities, "hora")
    matches = [
        option
        for option in options
        if (not wanted_days or _moment(option)[:10] in wanted_days)
        and (not wanted_times or _moment(option)[11:16] in wanted_times)
    ]
    if (wanted_days or wanted_times) and len(matches) == 1:
        return matches[0]

    typed = (text or "").strip().lower()
    by_label = [option for option in options if option["label"].lower() == typed]
    return by_label[0] if len(by_label) == 1 else None


def _moment(option: Option) -> str:
    return option.get("starts_at") or option["value"]
