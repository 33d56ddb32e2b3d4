"""Check each JSON schema once, not on every custom action answer.

Rasa validates every answer of the action server with ``jsonschema.validate(result,
RemoteAction.action_response_format_spec())`` (``RemoteAction._validate_action_result``, which
imports ``validate`` from ``jsonschema`` at call time). That function first checks the schema
itself against its meta-schema, every call: about 44 ms per custom action here, the largest
single share of the rasa process's CPU under load (23 %, py-spy in ``bench/e2e_report.md``).
Rasa 3.6 pins ``jsonschema < 4.18`` and offers no hook for it.

:func:`install` replaces ``jsonschema.validate`` in this process with :func:`validate`, which
does the same (same checks, same ``best_match`` error) but checks each distinct schema and
builds its validator once. Schemas are keyed by their JSON text, so a schema rebuilt as a new
dict on every call (as Rasa does) still hits the cache; a schema that is not plain JSON, or a
call with extra validator arguments, goes to the original function.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema import exceptions, validators

_ORIGINAL_VALIDATE = jsonschema.validate


@lru_cache(maxsize=64)
def _checked_validator(schema_text: str, cls: Any) -> Any:
    schema = json.loads(schema_text)
    validator_class = cls or validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """``jsonschema.validate`` with the schema checked once per distinct schema."""
    if args or kwargs:
        _ORIGINAL_VALIDATE(instance, schema, cls, *args, **kwargs)
        return
    try:
        schema_text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        _ORIGINAL_VALIDATE(instance, schema, cls)
        return
    error = exceptions.best_match(_checked_validator(schema_text, cls).iter_errors(instance))
    if error is not None:
        raise error


def install() -> None:
    """Make :func:`validate` this process's ``jsonschema.validate`` (idempotent)."""
    jsonschema.validate = validate
