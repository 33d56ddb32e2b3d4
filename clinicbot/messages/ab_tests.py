"""A/B tests of a template's text: assignment, exposure, outcomes and the report.

* **Assignment** is a pure function of the test and the phone (a hash mapped onto the
  variants' cumulative weights), so every process agrees without coordination; the first render
  stores it in ``ab_test_assignments``.
* **Exposure**: a render only says the text was prepared. A patient is exposed once an outbox
  row with that text for their phone was accepted by WhatsApp (``sent``, ``delivered`` or
  ``read``): :func:`record_exposures` finds those rows.
* **Outcomes** after the exposure, within :data:`ATTRIBUTION_WINDOW`: ``booking`` (an
  appointment made), ``reminder_confirmed`` (a reminder answered yes), ``handoff_avoided`` (no
  request for a person), ``satisfaction`` (a rating of 4 or 5).
* **Report**: per variant, exposures, conversions, the rate with a Wilson 95 % interval, and a
  chi-square test (Fisher's exact test for small counts) against the control; no winner is
  called before every variant has ``min_sample`` exposures and p < 0.05.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinicbot.db.models import ABTestAssignment
from clinicbot.db.types import utcnow
from clinicbot.messages.cache import RunningTest

ATTRIBUTION_WINDOW = timedelta(days=7)
EXCERPT_CHARS = 60


def variant_for(test: RunningTest, phone: str) -> str:
    """The variant ``phone`` sees in ``test``: deterministic, proportional to the weights."""
    digest = hashlib.sha256(f"{test.id}:{phone}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(test.weights.values())
    cumulative = 0.0
    names = sorted(test.weights)
    for name in names:
        cumulative += test.weights[name] / total
        if point < cumulative:
            return name
    return names[-1]


def _insert(session: Session) -> Any:
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def record_render(session: Session, test: RunningTest, phone: str, variant: str, text: str) -> None:
    """Store the assignment (first time) and that ``text`` was just prepared for ``phone``."""
    now = utcnow()
    session.execute(
        _insert(session)(ABTestAssignment)
        .values(test_id=test.id, phone=phone, variant=variant, assigned_at=now)
        .on_conflict_do_nothing()
    )
    session.execute(
        update(ABTestAssignment)
        .where(ABTestAssignment.test_id == test.id, ABTestAssignment.phone == phone)
        .values(rendered_at=now, rendered_excerpt=text[:EXCERPT_CHARS])
    )


@dataclass(frozen=True)
class Exposure:
    assignment_id: int
    exposed_at: datetime


def pending_assignments(session: Session) -> list[ABTestAssignment]:
    return list(
        session.execute(
            select(ABTestAssignment).where(
                ABTestAssignment.exposed_at.is_(None), ABTestAssignment.rendered_at.is_not(None)
            )
        ).scalars()
    )
