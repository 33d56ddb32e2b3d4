"""The 24-hour customer-service window, on both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.meta.service_window import in_service_window, window_closes_at
from tests.whatsapp.harness import text_event


def test_service_window_follows_the_last_inbound_message(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert not in_service_window(session, "5531988887777")
    inbox.store_inbound("meta", text_event("wamid.1"), engine)
    with session_scope(engine) as session:
        assert in_service_window(session, "5531988887777")
        assert not in_service_window(session, "5531988887777", "zapi")
        closes = window_closes_at(session, "5531988887777")
        assert in_service_window(session, "5531988887777", now=closes - timedelta(seconds=1))
        assert not in_service_window(session, "5531988887777", now=closes)
