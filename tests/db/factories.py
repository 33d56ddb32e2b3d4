"""Minimal valid rows for each table; keyword arguments override any column."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import count
from typing import Any

from clinicbot.db import models

_ids = count(1)
NOON_UTC = datetime(2031, 3, 10, 15, 0, tzinfo=timezone.utc)


def conversation(**overrides: Any) -> models.Conversation:
    return models.Conversation(**{"phone": "5531988887777", "started_at": NOON_UTC, **overrides})


def message(**overrides: Any) -> models.ConversationMessage:
    values = {"phone": "5531988887777", "direction": "in", "text": "oi", "created_at": NOON_UTC}
    return models.ConversationMessage(**{**values, **overrides})


def appointment(**overrides: Any) -> models.Appointment:
    values = {
        "gestaods_id": f"G{next(_ids)}",
        "phone": "5531988887777",
        "cpf": "39053344705",
        "starts_at": NOON_UTC,
        "ends_at": NOON_UTC + timedelta(minutes=30),
    }
    return models.Appointment(**{**values, **overrides})


def waiting(**overrides: Any) -> models.WaitingList:
    values = {
        "phone": "5531988887777",
        "cpf": "39053344705",
        "preferred_date_from": date(2031, 3, 10),
        "preferred_date_to": date(2031, 3, 20),
    }
    return models.WaitingList(**{**values, **overrides})


def dashboard(**overrides: Any) -> models.ConversationDashboard:
    return models.ConversationDashboard(**{"phone": "5531988887777", **overrides})


def transaction(**overrides: Any) -> models.PatientTransaction:
    return models.PatientTransaction(**{"phone": "5531988887777", **overrides})


def notification(**overrides: Any) -> models.Notification:
    values = {
        "kind": "reminder",
        "phone": "5531988887777",
        "scheduled_for": NOON_UTC,
        "dedupe_key": f"reminder:{next(_ids)}",
        "payload": {"hours_before": 24},
    }
    return models.Notification(**{**values, **overrides})


def ab_test(**overrides: Any) -> models.ABTest:
    values = {"key": f"greeting-{next(_ids)}", "variants": {"a": 1, "b": 1}}
    return models.ABTest(**{**values, **overrides})
