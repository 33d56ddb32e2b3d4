"""Deterministic spans for dates, clock times and periods, following the data's conventions.

The conventions are written at the top of ``data/nlu/datetime.yml``: a ``data`` span has no
leading preposition but keeps "dia", "próxima", "-feira", "que vem"; a date range keeps the
word that makes it one ("até sexta", "a partir de segunda", "essa semana"); a ``hora`` span
has no "às"; a ``periodo`` span keeps its preposition ("de manhã", "à tarde", "fim da tarde")
and a bare "manhã"/"tarde"/"noite" is not one (so "boa tarde" never is); vague times
("cedo", "depois do almoço", "fim do dia") are ``periodo`` spans too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicbot.ptbr.date_ranges import RANGE_PATTERN
from clinicbot.ptbr.names import NAME_PARTICLES
from clinicbot.ptbr.text import fold_accents
from clinicbot.ptbr.vague_times import VAGUE_TIME_PATTERN
from clinicbot.ptbr.words import MONTHS, WEEKDAYS, alternation

_MONTH = alternation(MONTHS)
_YEAR = r"(?:/\d{2}|/\d{4})?"
_DATE = re.compile(
    r"\b(?:"
    r"depois\s+de\s+amanha|amanha|amnh|hoje|hj"
    rf"|dia\s+\d{{1,2}}o?(?:\s+de\s+(?:{_MONTH})(?:\s+de\s+\d{{4}})?|/\d{{1,2}}{_YEAR})?"
    rf"|\d{{1,2}}o?\s+de\s+(?:{_MONTH})(?:\s+de\s+\d{{4}})?"
    rf"|\d{{1,2}}/\d{{1,2}}{_YEAR}"
    rf"|(?:proxim[oa]\s+)?(?:{alternation(WEEKDAYS)})(?:-feira|\s+feira)?"
    r"(?:\s+da\s+(?:semana\s+que\s+vem|proxima\s+semana)|\s+que\s+vem)?"
    r")\b"
)
_TIME = re.compile(
    r"\b(?:\d{1,2}(?::\d{2}|h\d{2}|hrs?|hs|h)|\d{1,2}\s+horas?|\d{1,2}\s+e\s+meia|meio[-\s]dia)"
    r"(?!\w)"
)
# A bare number is a time only after "às/das/pelas" or before "da manhã/tarde/noite".
_BARE_HOUR = re.compile(
    r"\b(?:as|das|pelas)\s+(\d{1,2})\b(?!\s*(?:/|dias?|semanas?|mes|meses|opc))"
    r"|\b(\d{1,2})(?=\s+da\s+(?:manha|tarde|noite)\b)"
)
_PERIOD = re.compile(
    r"\b(?:(?:fim|final|inicio)\s+d[aoe]\s+|de\s+|da\s+|pela\s+|a\s+)(?:manha|tarde|noite)\b"
)

_ANY_TIME = re.compile(r"qualquer\s")


@dataclass(frozen=True)
class Span:
    """An entity type and character offsets into the original text."""

    entity: str
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end and self != other


def _fold_keeping_offsets(text: str) -> str:
    """Accent-folded, lower-case text with exactly one character per original character."""
    return "".join((fold_accents(char) or char)[0] for char in text)


def find_datetime_spans(text: str) -> list[Span]:
    """``data``, ``hora`` and ``periodo`` spans in ``text``, longest first on overlaps."""
    folded = _fold_keeping_offsets(text)
    candidates = [Span("data", m.start(), m.end()) for m in _DATE.finditer(folded)]
    candidates += [Span("data", m.start(), m.end()) for m in RANGE_PATTERN.finditer(folded)]
    candidates += [Span("periodo", m.start(), m.end()) for m in VAGUE_TIME_PATTERN.finditer(folded)]
    candidates += [Span("hora", m.start(), m.end()) for m in _TIME.finditer(folded)]
    for match in _BARE_HOUR.finditer(folded):
        group = 1 if match.group(1) else 2
        candidates.append(Span("hora", match.start(group), match.end(group)))
    candidates += [Span("periodo", m.start(), m.end()) for m in _PERIOD.finditer(folded)]
    spans: list[Span] = []
    for span in sorted(candidates, key=lambda s: (s.start - s.end, s.start)):
        if not any(span.overlaps(kept) for kept in spans):
            spans.append(span)
    periods = [span for span in spans if span.entity == "periodo"]
    if len(periods) > 1:  # "qualquer horário de manhã": the narrower one says what is wanted
        spans = [span for span in spans if not _ANY_TIME.match(folded, span.start)]
    return sorted(spans, key=lambda s: s.start)


_NAME_CUE = re.compile(
    r"\b(?:me\s+chamo|pode\s+me\s+chamar\s+de|meu\s+nome\s+(?:completo\s+)?(?:e|eh)"
    r"|(?:o\s+)?nome\s+(?:completo\s+)?(?:e|eh|:)|nome\s*(?:completo\s*)?:"
    r"|nome\s+d[oa]\s+(?:meu|minha)\s+\w+(?:\s+e)?|nome\s+del[ea](?:\s+e)?"
    r"|(?:eu\s+)?sou\s+(?:o|a)|eu\s+sou|(?:aqui\s+e|quem\s+fala\s+e)\s+(?:o|a))\s*:?\s+"
)
_NAME_WORD = re.compile(r"[^\W\d_]+")
# Words that can follow a cue but are not names ("sou a paciente", "eu sou nova aqui").
_NOT_NAMES = frozenset(
    {"a", "o", "eu", "ela", "ele", "voce", "que", "sou", "aqui", "mesmo", "pfv", "por", "favor"}
    | {"cliente", "paciente", "nova", "novo", "obrigado", "obrigada", "responsavel"}
    | {"mae", "pai", "filho", "filha", "esposa", "marido"}
)


def find_name_spans(text: str) -> list[Span]:
    """``nome`` spans introduced by a cue ("me chamo", "meu nome é", "sou a", "nome:")."""
    folded = _fold_keeping_offsets(text)
    spans = []
    for cue in _NAME_CUE.finditer(folded):
        position = cue.end()
        words: list[re.Match[str]] = []
        while match := _NAME_WORD.match(folded, position):
            word = match.group()
            if word in _NOT_NAMES or (not words and word in NAME_PARTICLES):
                break
            words.append(match)
            gap = re.match(r"[ \t]+", folded[match.end() :])
            if gap is None:
                break
            position = match.end() + gap.end()
        while words and words[-1].group() in NAME_PARTICLES:
            words.pop()
        if words:
            spans.append(Span("nome", words[0].start(), words[-1].end()))
    return spans
