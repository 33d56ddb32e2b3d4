"""Who is writing: a CPF is not proof that the sender is that patient.

The sender is the patient when their WhatsApp number is the phone GestãoDS has for the CPF
(ninth digit or not), or when they tell the birth date GestãoDS has. Failed checks are counted
per phone and clinic day; after :data:`MAX_FAILURES_PER_DAY` the clinic's staff take over. Until
verified, a sender learns nothing about the CPF: not whether it is registered, nor a name, an
e-mail or an appointment.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from clinicbot.db.engine import session_scope
from clinicbot.db.models import IdentityCheck
from clinicbot.gestaods.models import Patient
from clinicbot.ptbr.phones import same_phone
from clinicbot.tenancy.current import current_settings

MAX_FAILURES_PER_DAY = 3


def sender_is_patient(sender: str, patient: Patient) -> bool:
    """The WhatsApp sender's number is the patient's registered phone."""
    return same_phone(sender, patient.phone)


def birth_date_matches(patient: Patient, told: date) -> bool:
    return patient.birth_date is not None and patient.birth_date == told


def failures_today(phone: str) -> int:
    with session_scope() as session:
        failures = session.execute(
            select(IdentityCheck.failures).where(
                IdentityCheck.phone == phone, IdentityCheck.day == _today()
            )
        ).scalar_one_or_none()
    return int(failures or 0)


def record_failure(phone: str) -> int:
    """Count one failed check for ``phone`` today; returns today's count."""
    with session_scope() as session:
        check = session.execute(
            select(IdentityCheck)
            .where(IdentityCheck.phone == phone, IdentityCheck.day == _today())
            .with_for_update()
        ).scalar_one_or_none()
        if check is None:
            check = IdentityCheck(phone=phone, day=_today(), failures=0)
            session.add(check)
        check.failures += 1
        return int(check.failures)


def blocked(phone: str) -> bool:
    """Whether ``phone`` used up today's identity checks."""
    return failures_today(phone) >= MAX_FAILURES_PER_DAY


def _today() -> date:
    return current_settings().clinic_today()
