"""Rasa's check of custom action answers with each schema checked once (rasa/schema_checks.py):
the same answers pass and the same errors are raised as with jsonschema's own ``validate``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft7Validator, SchemaError, ValidationError
from rasa.core.actions.action import RemoteAction

from clinicbot.rasa import schema_checks

ANSWERS: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "cpf", "value": "39053344705"}], "responses": []},
    {"events": [{"event": "slot"}], "responses": [{"text": "Oi"}]},  # no slot name
    {"events": "nada", "responses": []},
    {"events": [{"event": "nao_existe"}]},
]


@pytest.fixture
def installed() -> Iterator[None]:
    original = jsonschema.validate
    schema_checks.install()
    yield
    jsonschema.validate = original


def outcome(check: Any, instance: Any, schema: Any) -> str | None:
    try:
        check(instance, schema)
    except ValidationError as error:
        return f"{list(error.absolute_path)} {error.message}"
    return None


def test_the_same_answers_pass_and_fail_as_with_jsonschema() -> None:
    spec = RemoteAction.action_response_format_spec()
    results = [outcome(schema_checks.validate, answer, spec) for answer in ANSWERS]
    assert results == [outcome(schema_checks._ORIGINAL_VALIDATE, a, spec) for a in ANSWERS]
    assert results[:2] == [None, None] and all(results[2:])


def test_each_schema_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[Any] = []
    real_check = Draft7Validator.check_schema.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Draft7Validator,
        "check_schema",
        classmethod(lambda cls, schema: checked.append(schema) or real_check(cls, schema)),
    )
    schema_checks._checked_validator.cache_clear()
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    for _ in range(5):
        schema_checks.validate({}, dict(schema))  # a new dict each time, as Rasa builds it
    assert len(checked) == 1
    with pytest.raises(ValidationError):
        schema_checks.validate([], dict(schema))
    assert len(checked) == 1
    with pytest.raises(SchemaError):  # a broken schema is still refused
        schema_checks.validate({}, {"type": 12})


def test_rasa_checks_action_answers_with_it(installed: None) -> None:
    action = RemoteAction("action_qualquer", None)
    assert jsonschema.validate is schema_checks.validate
    assert action._validate_action_result(ANSWERS[1])
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(ANSWERS[3])
