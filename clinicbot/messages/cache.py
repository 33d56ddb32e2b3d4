"""A per-process snapshot of the active templates and running A/B tests.

Reading the database on every message would cost a query per reply; instead each process keeps
a snapshot and, at most every ``ttl`` seconds, reads the clinic's revision stamp (one indexed
row). A changed stamp reloads the snapshot, so an edit made through any process reaches every
other within ``ttl`` seconds, with no restart. Edits made in this process clear it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinicbot.db.models import ABTest, MessageTemplate, MessageTemplateRevision
from clinicbot.settings import get_settings
from clinicbot.tenancy.scope import acting_clinic


@dataclass(frozen=True)
class ActiveTemplate:
    text: str
    buttons: list[dict[str, Any]] | None
    version: int


@dataclass(frozen=True)
class RunningTest:
    id: int
    template_key: str
    weights: dict[str, float]


@dataclass(frozen=True)
class Snapshot:
    stamp: str | None
    templates: dict[tuple[str, str, str], ActiveTemplate] = field(default_factory=dict)
    tests: dict[str, RunningTest] = field(default_factory=dict)

    def template(self, key: str, variant: str, locale: str) -> ActiveTemplate | None:
        return self.templates.get((key, variant, locale))


def _stamp(session: Session, clinic_id: int) -> str | None:
    stamp: str | None = session.execute(
        select(MessageTemplateRevision.stamp).where(MessageTemplateRevision.clinic_id == clinic_id)
    ).scalar_one_or_none()
    return stamp


def load_snapshot(session: Session, clinic_id: int | None = None) -> Snapshot:
    clinic_id = acting_clinic(session, clinic_id)
    stamp = _stamp(session, clinic_id)
    rows = session.execute(
        select(
            MessageTemplate.key,
            MessageTemplate.variant,
            MessageTemplate.locale,
            MessageTemplate.text,
            MessageTemplate.buttons,
            MessageTemplate.version,
        ).where(MessageTemplate.active.is_(True))
    ).all()
    tests = session.execute(
        select(ABTest).where(ABTest.status == "running", ABTest.template_key.is_not(None))
    ).scalars()
    return Snapshot(
        stamp,
        {
            (row.key, row.variant, row.locale): ActiveTemplate(row.text, row.buttons, row.version)
            for row in rows
        },
        {
            test.template_key: RunningTest(
                test.id,
                test.template_key,
                {str(name): float(weight) for name, weight in test.variants.items()},
            )
            for test in tests
        },
    )


class TemplateCache:
    """The snapshot per database and clinic, checked at most every ``ttl`` seconds."""

    def __init__(
        self, ttl: float | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, int], tuple[Snapshot, float]] = {}

    @property
    def ttl(self) -> float:
        """Seconds between checks: ``TEMPLATE_CACHE_SECONDS`` unless given (read when first
        needed, not at import: importing must not freeze the settings)."""
        if self._ttl is None:
            self._ttl = get_settings().template_cache_seconds
        return self._ttl

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        self._ttl = seconds

    def get(self, session: Session, clinic_id: int | None = None) -> Snapshot:
        clinic_id = acting_clinic(session, clinic_id)
        now = self._monotonic()
        where = (str(session.get_bind().url), clinic_id)
        with self._lock:
            cached = self._snapshots.get(where)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        if cached is not None and _stamp(session, clinic_id) == cached[0].stamp:
            snapshot = cached[0]
        else:
            snapshot = load_snapshot(session, clinic_id)
        with self._lock:
            self._snapshots[where] = (snapshot, now)
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()


TEMPLATE_CACHE = TemplateCache()
