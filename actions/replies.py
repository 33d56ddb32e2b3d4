"""Values of the ``{variables}`` that several of ``domain.yml``'s responses share.

Actions say nothing in their own words: they pick a response by key and pass the values its
text names, ``dispatcher.utter_message(response="utter_consulta_remarcada", **day_and_hour(t))``.
"""

from __future__ import annotations

from datetime import datetime

from clinicbot.ptbr.formatting import clock, long_day


def day_and_hour(moment: datetime) -> dict[str, str]:
    """``{dia}`` and ``{hora}``: ``terça-feira, 01/12`` and ``09:00``, in ``moment``'s zone."""
    return {"dia": long_day(moment.date()), "hora": clock(moment)}
