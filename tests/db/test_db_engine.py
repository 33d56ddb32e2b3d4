"""Engine and session behaviour: SQLite pragmas, session_scope, UTC timestamps, local dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.models import Appointment, Conversation

from . import factories

BRASILIA = timezone(timedelta(hours=-3))


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'clinicbot.db'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("foreign_keys", "journal_mode", "busy_timeout")
        }
    assert (tmp_path / "var" / "clinicbot.db").exists()
    assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}
    engine.dispose()


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(factories.conversation(phone="5511911112222"))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(factories.conversation(phone="5511933334444"))
        session.flush()
        raise RuntimeError("boom")

    with session_scope(engine) as session:
        phones = session.execute(select(Conversation.phone)).scalars().all()
    assert phones == ["5511911112222"]


def test_timestamps_come_back_as_utc_and_local_dates_follow_the_clinic(engine: Engine) -> None:
    # 22:30 in Brasília on 9 March is already 10 March in UTC.
    starts = datetime(2031, 3, 9, 22, 30, tzinfo=BRASILIA)
    with session_scope(engine) as session:
        session.add(factories.appointment(starts_at=starts, ends_at=starts + timedelta(hours=1)))
        session.add(factories.conversation(started_at=starts))

    with session_scope(engine) as session:
        appointment = session.execute(select(Appointment)).scalar_one()
        conversation = session.execute(select(Conversation)).scalar_one()
    assert appointment.starts_at == starts
    assert appointment.starts_at.tzinfo == timezone.utc
    assert appointment.appointment_date == date(2031, 3, 9)
    assert conversation.started_on == date(2031, 3, 9)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="timezone-aware"), session_scope(engine) as session:
        session.add(factories.conversation(started_at=datetime(2031, 3, 9, 12, 0)))
