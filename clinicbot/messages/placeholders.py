"""The ``{name}`` placeholders of a template: what a saved text may use and how it is filled.

Only ``{identifier}`` is a placeholder; anything else between braces (``{nome.upper}``,
``{0}``, a lone ``{``) is refused when saved, so filling is a plain substitution that can never
run code or read attributes (unlike ``str.format``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_TEXT_CHARS = 4096  # WhatsApp's limit for one text message


class MissingValues(KeyError):
    """Filling a template without a value for some of its placeholders."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def placeholders(text: str) -> list[str]:
    """The names ``text`` uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def problems(text: str, declared: Iterable[str]) -> list[str]:
    """Why ``text`` cannot be saved as a template declaring ``declared`` (empty when it can)."""
    found: list[str] = []
    if not text.strip():
        found.append("the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        found.append(f"the text is longer than {MAX_TEXT_CHARS} characters")
    if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
        found.append("braces are only for variables, written like {nome}")
    allowed = set(declared)
    for name in placeholders(text):
        if name not in allowed:
            found.append(f"unknown variable {{{name}}}")
    return found


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with each placeholder replaced; :class:`MissingValues` when one has no value
    (``None`` counts as none: it would reach the patient as "None")."""
    missing = [name for name in placeholders(text) if values.get(name) is None]
    if missing:
        raise MissingValues(missing)
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


def fill_leniently(text: str, values: Mapping[str, object]) -> str:
    """``text`` filled where a value exists, other placeholders left as written."""

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return PLACEHOLDER.sub(one, text)
