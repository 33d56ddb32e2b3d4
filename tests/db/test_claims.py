"""Row claiming: one worker wins a row, on PostgreSQL and on SQLite."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from clinicbot.db.claims import claim_one, claim_with, lock_candidates, write_transaction
from clinicbot.db.engine import session_scope, sqlite_file
from clinicbot.db.models import Notification
from tests.support.databases import BACKENDS

from . import factories

SQLITE, POSTGRESQL = BACKENDS


def add_pending(engine: Engine, count: int = 1) -> list[int]:
    with session_scope(engine) as session:
        rows = [factories.notification() for _ in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def pending(notification_id: int) -> tuple[ColumnElement[bool], ...]:
    return (Notification.id == notification_id, Notification.status == "pending")


def test_a_guarded_update_wins_a_row_once(engine: Engine) -> None:
    [row_id] = add_pending(engine)
    send = update(Notification).where(*pending(row_id)).values(status="sent")
    with session_scope(engine) as session:
        assert claim_with(session, send) is True
    with session_scope(engine) as session:
        assert claim_with(session, send) is False


def test_claim_one_takes_a_matching_row_and_no_longer_once_it_moved_on(engine: Engine) -> None:
    [row_id] = add_pending(engine)
    with session_scope(engine) as session:
        claimed = claim_one(session, Notification, *pending(row_id))
        assert claimed is not None
        assert claimed.id == row_id
        claimed.status = "sent"
    with session_scope(engine) as session:
        assert claim_one(session, Notification, *pending(row_id)) is None


@pytest.mark.parametrize("backend", [POSTGRESQL], indirect=True)
def test_a_row_another_worker_holds_is_skipped_on_postgresql(engine: Engine) -> None:
    first, second = add_pending(engine, 2)
    with session_scope(engine) as holder:
        assert claim_one(holder, Notification, *pending(first)) is not None
        with session_scope(engine) as other:
            assert claim_one(other, Notification, *pending(first)) is None
            candidates = lock_candidates(
                other,
                select(Notification.id)
                .where(Notification.status == "pending")
                .order_by(Notification.id),
            )
            assert other.execute(candidates).scalars().all() == [second]


@pytest.mark.parametrize("backend", [SQLITE], indirect=True)
def test_a_write_transaction_holds_the_sqlite_write_lock_before_it_reads(engine: Engine) -> None:
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    assert path is not None
    outsider = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        with (
            write_transaction(engine, Notification),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            outsider.execute("BEGIN IMMEDIATE")
        outsider.execute("BEGIN IMMEDIATE")  # released at commit
        outsider.execute("ROLLBACK")
    finally:
        outsider.close()
