"""Checking events against their published JSON Schemas (used by several suites)."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from clinicbot.integrations.events import SCHEMA_DIR, event_schema


def assert_valid_event(event_type: str, data: dict[str, Any]) -> None:
    """``data`` follows ``event_type``'s schema (formats such as date-time checked too)."""
    validator = Draft202012Validator(event_schema(event_type), format_checker=FormatChecker())
    errors = [error.message for error in validator.iter_errors(data)]
    assert not errors, f"{event_type}: {errors}"


def assert_valid_envelope(body: dict[str, Any]) -> None:
    envelope = json.loads((SCHEMA_DIR / "v1" / "envelope.json").read_text(encoding="utf-8"))
    Draft202012Validator(envelope, format_checker=FormatChecker()).validate(body)
    assert_valid_event(body["type"], body["data"])
