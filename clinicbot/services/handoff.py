"""Handing a patient over to the clinic's staff, and back to the assistant.

The assistant pauses the Rasa conversation (``ConversationPaused``) and records the request in
``conversation_dashboard``; staff answer from the clinic's WhatsApp. When they are done, the clinic
service resumes the Rasa conversation (:func:`resume_in_rasa`) and only then closes the row
(:func:`close_handoff`): if Rasa does not answer, the handoff stays open and staff can try again,
and trying again after a success changes nothing.
"""

from __future__ import annotations

from typing import Literal

import aiohttp
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationDashboard
from clinicbot.db.types import utcnow
from clinicbot.integrations.events import emit_event
from clinicbot.settings import Settings

OPEN_STATUSES = ("open", "waiting_human", "with_human")
# The listen marks where the assistant takes over again: without it the messages the patient
# sent to the staff meanwhile would read, to the policies, as one unanswered turn.
RESUME_EVENTS = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]

HandoffState = Literal["open", "closed"]


def request_human(phone: str, reason: str, engine: Engine | None = None) -> int:
    """Record that ``phone`` wants a person; returns the (one open) dashboard row id."""
    with session_scope(engine) as session:
        row = session.execute(
            select(ConversationDashboard).where(
                ConversationDashboard.phone == phone,
                ConversationDashboard.status.in_(OPEN_STATUSES),
            )
        ).scalar_one_or_none()
        if row is None:
            row = ConversationDashboard(phone=phone, status="waiting_human", reason=reason)
            session.add(row)
            session.flush()
            emit_event(
                session,
                "handoff.requested",
                {"handoff_id": row.id, "phone": phone, "reason": reason},
            )
        return int(row.id)


def handoff_state(phone: str, engine: Engine | None = None) -> HandoffState | None:
    """``open`` while a handoff of ``phone`` waits for staff, ``closed`` when every one of them
    was closed, None when ``phone`` never asked for a person."""
    with session_scope(engine) as session:
        statuses = set(
            session.execute(
                select(ConversationDashboard.status).where(ConversationDashboard.phone == phone)
            ).scalars()
        )
    if statuses & set(OPEN_STATUSES):
        return "open"
    return "closed" if statuses else None


def close_handoff(phone: str, engine: Engine | None = None) -> bool:
    """Close the open handoff of ``phone``; False when there was none."""
    with session_scope(engine) as session:
        rows = (
            session.execute(
                select(ConversationDashboard).where(
                    ConversationDashboard.phone == phone,
                    ConversationDashboard.status.in_(OPEN_STATUSES),
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.status = "closed"
            row.closed_at = utcnow()
        if rows:
            emit_event(
                session,
                "handoff.resolved",
                {"handoff_ids": [row.id for row in rows], "phone": phone},
            )
        return bool(rows)


async def pause_in_rasa(http: aiohttp.ClientSession, settings: Settings, phone: str) -> None:
    """Pause ``phone``'s conversation in rasa. Rasa appends the event under the conversation's
    lock, so this returns only once a turn in flight has finished and saved its events.
    Raises like :func:`resume_in_rasa`."""
    url = f"http://127.0.0.1:{settings.rasa_port}/conversations/{phone}/tracker/events"
    timeout = aiohttp.ClientTimeout(total=settings.rasa_api_timeout_seconds)
    params = {"token": settings.rasa_api_token}
    async with http.post(url, params=params, json=[{"event": "pause"}], timeout=timeout) as answer:
        answer.raise_for_status()


async def resume_in_rasa(http: aiohttp.ClientSession, settings: Settings, phone: str) -> bool:
    """Let the assistant answer ``phone`` again; False when its conversation was not paused
    (resumed by an earlier call). Raises ``aiohttp.ClientError`` when rasa refuses or cannot be
    reached, ``asyncio.TimeoutError`` after ``RASA_API_TIMEOUT_SECONDS``.
    """
    tracker_url = f"http://127.0.0.1:{settings.rasa_port}/conversations/{phone}/tracker"
    token = {"token": settings.rasa_api_token}
    timeout = aiohttp.ClientTimeout(total=settings.rasa_api_timeout_seconds)
    params = {**token, "include_events": "NONE"}
    async with http.get(tracker_url, params=params, timeout=timeout) as answer:
        answer.raise_for_status()
        tracker = await answer.json()
    if not tracker.get("paused"):
        return False
    params = {**token, "output_channel": "latest"}
    async with http.post(
        f"{tracker_url}/events", params=params, json=RESUME_EVENTS, timeout=timeout
    ) as answer:
        answer.raise_for_status()
    return True
