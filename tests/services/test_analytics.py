"""The dashboard's figures on SQLite and PostgreSQL, against values worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ChatbotMetrics
from clinicbot.services.analytics import BadPeriod, Period, dashboard_report, percentile
from clinicbot.services.nlu_review import messages_to_review, rasa_nlu_yaml
from tests.support.dashboard_seed import (
    EXPECTED,
    EXPECTED_REVIEW,
    FIRST,
    LAST,
    TZ,
    approx_nested,
    seed,
)

PERIOD = Period(FIRST, LAST)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        seed(session)
    return engine


def test_every_figure_matches_the_hand_computed_values(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        report = dashboard_report(session, PERIOD, tz=TZ).to_json()
    assert report.pop("clinic_id") == 1
    assert report == approx_nested(EXPECTED)


def test_another_clinic_sees_nothing_of_the_default_clinic(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        report = dashboard_report(session, PERIOD, tz=TZ, clinic_id=2)
    assert [day.conversations + day.bookings for day in report.daily] == [0, 0, 0]
    assert report.conversations.started == 0 and report.conversations.handoff_rate is None
    assert report.reply_times.replies == 0 and report.reply_times.p50_ms is None
    assert [stage.reached for stage in report.funnel] == [0, 0, 0, 0]
    assert report.intents == [] and report.api == []
    assert report.reminders.sent == 0 and report.waiting_list.filled == 0


def test_a_day_outside_the_seed_is_empty_but_listed(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        report = dashboard_report(session, Period(date(2031, 3, 20), date(2031, 3, 21)), tz=TZ)
    assert [(day.day.isoformat(), day.conversations) for day in report.daily] == [
        ("2031-03-20", 0),
        ("2031-03-21", 0),
    ]
    assert report.conversations.resolution_rate is None


def test_messages_to_review_are_masked_newest_first(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        messages = messages_to_review(session, PERIOD, tz=TZ)
    rows = [
        (m.to_json(TZ)["at"], m.text, m.intent, m.to_json(TZ)["predicted_intent"], m.confidence)
        for m in messages
    ]
    assert rows == EXPECTED_REVIEW


def test_a_lower_threshold_keeps_only_the_fallbacks(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        messages = messages_to_review(session, PERIOD, tz=TZ, below=0.3)
    assert [m.text for m in messages] == [
        "blz",
        "[clique](aqui) vlw",
        "Quero marca consulta",
        "quero marca consulta",
    ]


def test_the_export_is_rasa_nlu_grouped_by_predicted_intent(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        messages = messages_to_review(session, PERIOD, tz=TZ)
    document = rasa_nlu_yaml(messages, PERIOD, below=0.6, tz=TZ)

    data = yaml.safe_load(document)
    assert data["version"] == "3.1"
    assert data["nlu"] == [
        {"intent": "agendar_consulta", "examples": [{"text": "Quero marca consulta"}]},
        {"intent": "agradecer", "examples": [{"text": "[clique] (aqui) vlw"}]},
        {"intent": "informar_cpf", "examples": [{"text": "meu cpf ***.***.*47-05"}]},
    ]
    lines = document.splitlines()
    both = lines.index('  - text: "Quero marca consulta"')
    assert lines[both - 1] == (
        "  # confidence 0.35, fallback 2x, 2 messages, last 2031-03-11 09:05"
    )
    assert (
        '#   - text: "blz"  # confidence 0.50, fallback 1x, 1 message, last 2031-03-12 23:30'
        in lines
    )


def test_rasa_reads_the_export_as_training_data(seeded: Engine) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    with session_scope(seeded) as session:
        messages = messages_to_review(session, PERIOD, tz=TZ)
    training = RasaYAMLReader().reads(rasa_nlu_yaml(messages, PERIOD, below=0.6, tz=TZ))
    examples = sorted((m.get("intent"), m.get("text")) for m in training.intent_examples)
    assert examples == [
        ("agendar_consulta", "Quero marca consulta"),
        ("agradecer", "[clique] (aqui) vlw"),
        ("informar_cpf", "meu cpf ***.***.*47-05"),
    ]
    assert training.entity_examples == []


def test_an_empty_export_is_still_a_valid_file() -> None:
    document = rasa_nlu_yaml([], PERIOD, below=0.6, tz=TZ)
    assert yaml.safe_load(document) == {"version": "3.1", "nlu": []}


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7], 0.95, 7.0), ([1, 2], 0.5, 1.5), ([10, 20, 30, 40, 50], 0.95, 48.0)],
)
def test_percentile_interpolates_like_percentile_cont(
    values: list[int], fraction: float, expected: float | None
) -> None:
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2031-03-12", "2031-03-10", "ends before it starts"),
        ("2030-01-01", "2031-03-10", "longer than 366 days"),
        ("12/03/2031", None, "YYYY-MM-DD"),
    ],
)
def test_bad_ranges_are_refused(start: str, end: str | None, error: str) -> None:
    with pytest.raises(BadPeriod, match=error):
        Period.parse(start, end, today=date(2031, 3, 12))


def test_the_default_range_is_the_last_30_days() -> None:
    assert Period.parse(None, None, today=date(2031, 3, 12)) == Period(
        date(2031, 2, 11), date(2031, 3, 12)
    )


def test_a_range_is_its_local_days_in_utc() -> None:
    since, until = PERIOD.bounds(TZ)
    assert (since.isoformat(), until.isoformat()) == (
        "2031-03-10T03:00:00+00:00",
        "2031-03-13T03:00:00+00:00",
    )


def test_a_cut_export_says_it_holds_only_the_newest_messages(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        messages = messages_to_review(session, PERIOD, tz=TZ, limit=2)
    document = rasa_nlu_yaml(messages, PERIOD, below=0.6, tz=TZ, truncated=True)
    assert [m.text for m in messages] == ["blz", "[clique](aqui) vlw"]
    assert "# Only the newest 2 messages: export a shorter range for the rest." in document


def test_conversations_per_day_agree_with_the_metrics_trigger(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        report = dashboard_report(session, PERIOD, tz=TZ)
        metrics = dict(
            session.execute(
                select(ChatbotMetrics.date, ChatbotMetrics.total_conversations).where(
                    ChatbotMetrics.date.between(FIRST, LAST)
                )
            ).all()
        )
    assert {day.day: day.conversations for day in report.daily} == metrics
