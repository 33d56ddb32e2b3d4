"""What a patient's agenda history tells about their next booking: first visit or return.

GestãoDS books with ``primeiro_atendimento``; the assistant asks "primeira consulta ou
retorno?" only when the history leaves it open (see ``clinic.yml`` ``asks_first_visit``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from clinicbot.gestaods.models import CANCELED, NO_SHOW, Appointment

# Appointments that never brought the patient to the clinic.
_NOT_ATTENDED = (CANCELED, NO_SHOW)


def first_visit_from_history(history: Iterable[Appointment], now: datetime) -> bool | None:
    """False when the patient has been seen (a past appointment neither canceled nor missed);
    True when nothing was ever kept or is still booked (registered, never seen); None when the
    only kept appointments are upcoming: the next booking may come before or after them."""
    kept = [appointment for appointment in history if appointment.status not in _NOT_ATTENDED]
    if any(appointment.starts_at < now for appointment in kept):
        return False
    return None if kept else True
