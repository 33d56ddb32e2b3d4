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
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scipy import stats
from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinicbot.db.models import (
    ABTest,
    ABTestAssignment,
    ABTestOutcome,
    Appointment,
    ConversationDashboard,
    Notification,
    OutboxMessage,
    SatisfactionFeedback,
)
from clinicbot.db.types import utcnow
from clinicbot.messages import store
from clinicbot.messages.cache import RunningTest
from clinicbot.ptbr.phones import normalize_phone

ATTRIBUTION_WINDOW = timedelta(days=7)
EXCERPT_CHARS = 60
METRICS = ("booking", "reminder_confirmed", "handoff_avoided", "satisfaction")
DEFAULT_MIN_SAMPLE = 100
ALPHA = 0.05
DELIVERED = ("sent", "delivered", "read")
RENDER_SLACK = timedelta(seconds=5)  # clocks of the rendering and enqueuing processes
BATCH = 500  # phones per IN (...) query


class ABTestError(ValueError):
    """A test that cannot be created, started or stopped as asked."""


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
    phone = normalize_phone(phone)
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


def create_test(
    session: Session,
    *,
    name: str,
    template_key: str,
    variants: dict[str, Any],
    metric: str,
    min_sample: int = DEFAULT_MIN_SAMPLE,
    description: str | None = None,
) -> ABTest:
    """A draft test of ``template_key``'s variants (each a saved template variant)."""
    store.default_of(template_key)
    problems = []
    if len(variants) < 2:
        problems.append("a test needs at least two variants")
    if any(
        isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0
        for weight in variants.values()
    ):
        problems.append("every weight must be a positive number")
    if metric not in METRICS:
        problems.append(f"metric must be one of {', '.join(METRICS)}")
    if min_sample < 1:
        problems.append("min_sample must be at least 1")
    for variant in variants:
        row = store.find(session, template_key, variant)
        if row is None or not row.active:
            problems.append(f"variant {variant!r} has no active text: save it first")
    if problems:
        raise ABTestError("; ".join(problems))
    test = ABTest(
        key=name,
        template_key=template_key,
        variants={variant: float(weight) for variant, weight in variants.items()},
        metric=metric,
        min_sample=min_sample,
        description=description,
        status="draft",
    )
    session.add(test)
    session.flush()
    return test


def start_test(session: Session, test: ABTest) -> None:
    if test.status != "draft":
        raise ABTestError(f"the test is {test.status}, not a draft")
    running = session.execute(
        select(ABTest.id).where(
            ABTest.template_key == test.template_key, ABTest.status == "running"
        )
    ).first()
    if running is not None:
        raise ABTestError(f"another test of {test.template_key} is running")
    test.status = "running"
    test.started_at = utcnow()
    store.bump_revision(session)


def stop_test(session: Session, test: ABTest, *, keep: str, edited_by: str) -> None:
    """End ``test``; the variant ``keep`` becomes the template's text from now on."""
    if test.status != "running":
        raise ABTestError(f"the test is {test.status}, not running")
    if keep not in test.variants:
        raise ABTestError(f"{keep!r} is not a variant of this test")
    if keep != store.DEFAULT_VARIANT:
        kept = store.find(session, test.template_key, keep)
        assert kept is not None
        store.save(
            session,
            test.template_key,
            store.Edit(kept.text, kept.buttons),
            edited_by=f"{edited_by} (A/B test {test.key})",
        )
    test.status = "stopped"
    test.ended_at = utcnow()
    test.winner = keep
    store.bump_revision(session)


def record_exposures(session: Session) -> int:
    """Mark assignments whose rendered text WhatsApp accepted since; how many were marked."""
    pending = list(
        session.execute(
            select(ABTestAssignment).where(
                ABTestAssignment.exposed_at.is_(None), ABTestAssignment.rendered_at.is_not(None)
            )
        ).scalars()
    )
    if not pending:
        return 0
    since = min(assignment.rendered_at for assignment in pending) - RENDER_SLACK
    delivered: dict[str, list[tuple[Any, str, Any]]] = {}
    phones = sorted({assignment.phone for assignment in pending})
    for start in range(0, len(phones), BATCH):
        for row in session.execute(
            select(
                OutboxMessage.phone,
                OutboxMessage.created_at,
                OutboxMessage.text,
                OutboxMessage.sent_at,
                OutboxMessage.updated_at,
            )
            .where(
                OutboxMessage.phone.in_(phones[start : start + BATCH]),
                OutboxMessage.status.in_(DELIVERED),
                OutboxMessage.created_at >= since,
            )
            .order_by(OutboxMessage.created_at)
        ):
            delivered.setdefault(row.phone, []).append(
                (row.created_at, row.text, row.sent_at or row.updated_at)
            )
    marked = 0
    for assignment in pending:
        for created_at, text, sent_at in delivered.get(assignment.phone, []):
            if created_at >= assignment.rendered_at - RENDER_SLACK and text.startswith(
                assignment.rendered_excerpt or ""
            ):
                assignment.exposed_at = sent_at
                marked += 1
                break
    return marked


def _events(session: Session, metric: str, phones: list[str]) -> dict[str, list[Any]]:
    """When each phone did what ``metric`` counts (for handoff_avoided: asked for a person)."""
    if metric == "booking":
        query = select(Appointment.phone, Appointment.created_at).where(
            Appointment.phone.in_(phones)
        )
    elif metric == "reminder_confirmed":
        query = select(Notification.phone, Notification.replied_at).where(
            Notification.phone.in_(phones),
            Notification.kind == "reminder",
            Notification.reply == "yes",
        )
    elif metric == "handoff_avoided":
        query = select(ConversationDashboard.phone, ConversationDashboard.created_at).where(
            ConversationDashboard.phone.in_(phones)
        )
    else:
        query = select(SatisfactionFeedback.phone, SatisfactionFeedback.rated_at).where(
            SatisfactionFeedback.phone.in_(phones), SatisfactionFeedback.rating >= 4
        )
    found: dict[str, list[Any]] = {}
    for phone, moment in session.execute(query):
        if moment is not None:
            found.setdefault(phone, []).append(moment)
    return found


def record_outcomes(session: Session, test: ABTest) -> None:
    """Write an ``ab_test_outcomes`` row (event = the test's metric) per converted exposure:
    the metric's event within :data:`ATTRIBUTION_WINDOW` after the exposure (for
    ``handoff_avoided``, no request for a person in it)."""
    recorded = set(
        session.execute(
            select(ABTestOutcome.assignment_id).where(
                ABTestOutcome.test_id == test.id, ABTestOutcome.event == test.metric
            )
        ).scalars()
    )
    exposed = [
        assignment
        for assignment in session.execute(
            select(ABTestAssignment).where(
                ABTestAssignment.test_id == test.id, ABTestAssignment.exposed_at.is_not(None)
            )
        ).scalars()
        if assignment.id not in recorded
    ]
    events: dict[str, list[Any]] = {}
    phones = sorted({assignment.phone for assignment in exposed})
    for start in range(0, len(phones), BATCH):
        events.update(_events(session, test.metric, phones[start : start + BATCH]))
    for assignment in exposed:
        start, end = assignment.exposed_at, assignment.exposed_at + ATTRIBUTION_WINDOW
        happened = any(start <= moment < end for moment in events.get(assignment.phone, []))
        if happened != (test.metric == "handoff_avoided"):
            session.add(
                ABTestOutcome(
                    test_id=test.id, assignment_id=assignment.id, event=test.metric, value=1.0
                )
            )
    session.flush()


@dataclass(frozen=True)
class VariantResult:
    variant: str
    assigned: int
    exposed: int
    conversions: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # against the control; None for the control itself


@dataclass(frozen=True)
class Report:
    test_id: int
    template_key: str
    metric: str
    status: str
    control: str
    min_sample: int
    variants: list[VariantResult]
    enough_data: bool
    winner: str | None
    verdict: str


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (good at small counts and rates near 0 or 1)."""
    if trials == 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_p_value(a_hits: int, a_trials: int, b_hits: int, b_trials: int) -> float:
    """Two-sided p-value that two rates differ: chi-square, or Fisher's exact test when an
    expected cell count is under 5."""
    table = [[a_hits, a_trials - a_hits], [b_hits, b_trials - b_hits]]
    if min(a_trials, b_trials) == 0:
        return 1.0
    total_hits, total = a_hits + b_hits, a_trials + b_trials
    if total_hits == 0 or total_hits == total:
        return 1.0
    expected = [
        a_trials * total_hits / total,
        a_trials * (total - total_hits) / total,
        b_trials * total_hits / total,
        b_trials * (total - total_hits) / total,
    ]
    if min(expected) < 5:
        return float(stats.fisher_exact(table)[1])
    return float(stats.chi2_contingency(table, correction=False)[1])


def report(session: Session, test: ABTest) -> Report:
    """Exposures and conversions per variant, intervals, tests against the control, verdict.

    The control is the ``default`` variant (else the first by name); with several challengers
    the significance level is divided among them (Bonferroni). A winner is called only when
    every variant has ``min_sample`` exposures and a challenger beats the control.
    """
    record_exposures(session)
    record_outcomes(session, test)
    names = sorted(test.variants)
    control = store.DEFAULT_VARIANT if store.DEFAULT_VARIANT in names else names[0]
    counts: dict[str, list[int]] = {name: [0, 0, 0] for name in names}
    for variant, exposed_at, converted in session.execute(
        select(
            ABTestAssignment.variant,
            ABTestAssignment.exposed_at,
            exists().where(
                ABTestOutcome.assignment_id == ABTestAssignment.id,
                ABTestOutcome.event == test.metric,
            ),
        ).where(ABTestAssignment.test_id == test.id)
    ):
        row = counts.setdefault(variant, [0, 0, 0])
        row[0] += 1
        if exposed_at is not None:
            row[1] += 1
            row[2] += int(bool(converted))
    control_hits, control_trials = counts[control][2], counts[control][1]
    results = []
    for name in names:
        assigned, exposed, hits = counts[name]
        low, high = wilson_interval(hits, exposed)
        results.append(
            VariantResult(
                name,
                assigned,
                exposed,
                hits,
                hits / exposed if exposed else None,
                low if exposed else None,
                high if exposed else None,
                None
                if name == control
                else two_proportion_p_value(hits, exposed, control_hits, control_trials),
            )
        )
    minimum = test.min_sample or DEFAULT_MIN_SAMPLE
    enough = all(result.exposed >= minimum for result in results)
    alpha = ALPHA / max(1, len(results) - 1)
    winner, verdict = None, f"not enough data: every variant needs {minimum} exposures"
    if enough:
        control_rate = control_hits / control_trials
        better = [
            result
            for result in results
            if result.p_value is not None
            and result.p_value < alpha
            and (result.rate or 0.0) > control_rate
        ]
        worse = [
            result for result in results if result.p_value is not None and result.p_value < alpha
        ]
        if better:
            best = max(better, key=lambda result: result.rate or 0.0)
            winner, verdict = best.variant, f"{best.variant} converts better than {control}"
        elif worse and len(worse) == len(results) - 1:
            winner, verdict = control, f"{control} converts better than every other variant"
        else:
            verdict = "no significant difference"
    return Report(
        test.id,
        test.template_key,
        test.metric,
        test.status,
        control,
        minimum,
        results,
        enough,
        winner,
        verdict,
    )
