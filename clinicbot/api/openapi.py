"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Written here by hand, next to the routes: ``tests/api/test_openapi.py`` validates it and checks
that it documents every route and no route that does not exist.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from clinicbot.db.models import (
    APPOINTMENT_STATUSES,
    WAITING_LIST_PERIODS,
    WAITING_LIST_STATUSES,
    WEBHOOK_DELIVERY_STATUSES,
)
from clinicbot.integrations.events import ALL_EVENTS, EVENT_TYPES

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _page_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": _ref(name)},
            "next_cursor": _nullable("string", description="pass as ?cursor= for the next page"),
        },
    }


def _problems(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Invalid request (a field, the body, the cursor or the Idempotency-Key)",
        401: "No valid API key",
        403: "The key lacks the scope",
        404: "Not found",
        409: "Conflict (slot taken, request with this Idempotency-Key still running)",
        422: "Idempotency-Key reused with another body, or refused by the agenda",
        429: "Over the key's rate limit (see Retry-After)",
        502: "The agenda or the assistant answered with an error",
        503: "The database or the agenda is unavailable",
        504: "A conversation turn is still running",
    }
    return {
        str(status): {
            "description": texts[status],
            "content": {PROBLEM: {"schema": _ref("Problem")}},
        }
        for status in sorted({401, 429, *statuses})
    }


def _ok(schema: dict[str, Any], status: int = 200, description: str = "OK") -> dict[str, Any]:
    return {str(status): {"description": description, "content": {JSON: {"schema": schema}}}}


def _operation(
    operation_id: str,
    summary: str,
    scope: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    problems: tuple[int, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"apiKey": [scope]}],
        "x-scope": scope,
        "parameters": parameters or [],
        "responses": {**responses, **_problems(403, *problems)},
    }
    if body is not None:
        operation["parameters"] = [*operation["parameters"], IDEMPOTENCY_KEY]
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        operation["responses"].update(_problems(400, 409, 422))
    return operation


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Any unique string (1-200 chars). A retry with the same key and body gets the "
    "first response again (header Idempotent-Replayed: true); another body → 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
PAGE_PARAMETERS = [
    _query("cursor", "next_cursor of the previous page"),
    _query("limit", "page size, 1-200 (default 50)", {"type": "integer", "minimum": 1}),
]
PHONE = {"type": "string", "pattern": "^[0-9]{10,15}$", "examples": ["5511987654321"]}
CPF = {"type": "string", "examples": ["39053344705"], "description": "11 digits, punctuation ok"}
DATE_TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; title/detail in English, *_pt in Portuguese.",
        "required": ["type", "title", "status", "detail", "title_pt", "detail_pt"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "title_pt": {"type": "string"},
            "detail_pt": {"type": "string"},
            "invalid_field": {"type": "string"},
            "required_scope": {"type": "string"},
        },
    },
    "Appointment": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the GestãoDS appointment id"},
            "phone": PHONE,
            "cpf": {"type": "string"},
            "patient_name": _nullable("string"),
            "starts_at": DATE_TIME,
            "ends_at": DATE_TIME,
            "status": {"enum": list(APPOINTMENT_STATUSES)},
            "professional": _nullable("string"),
            "first_visit": {"type": "boolean"},
            "created_at": DATE_TIME,
        },
    },
    "WaitingListEntry": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "phone": PHONE,
            "cpf": {"type": "string"},
            "patient_name": _nullable("string"),
            "specialty": _nullable("string"),
            "preferred_date_from": DATE,
            "preferred_date_to": DATE,
            "preferred_period": {"enum": list(WAITING_LIST_PERIODS)},
            "priority": {"type": "integer"},
            "status": {"enum": list(WAITING_LIST_STATUSES)},
            "offered_slot_starts_at": _nullable("string", format="date-time"),
            "offer_expires_at": _nullable("string", format="date-time"),
            "created_at": DATE_TIME,
        },
    },
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "conversation_id": _nullable("integer"),
            "direction": {"enum": ["in", "out"]},
            "text": _nullable("string"),
            "intent": _nullable("string"),
            "channel": {"type": "string"},
            "status": {"type": "string"},
            "created_at": DATE_TIME,
        },
    },
    "DailyMetrics": {
        "type": "object",
        "properties": {
            "date": DATE,
            "total_conversations": {"type": "integer"},
            "bot_resolved_conversations": {"type": "integer"},
            "successful_appointments": {"type": "integer"},
            "bot_resolution_rate": _nullable("number"),
            "responses_count": {"type": "integer"},
            "avg_response_time_ms": _nullable("number"),
            "satisfaction_count": {"type": "integer"},
            "satisfaction": _nullable("number"),
        },
    },
    "Subscription": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "clinic_id": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
            "event_types": {"type": "array", "items": {"enum": [*EVENT_TYPES, ALL_EVENTS]}},
            "description": _nullable("string"),
            "active": {"type": "boolean"},
            "created_at": DATE_TIME,
            "secret": {
                "type": "string",
                "description": "only in the answer to the creation: the HMAC signing secret",
            },
        },
    },
    "Delivery": {
        "type": "object",
        "properties": {
            "delivery_id": {"type": "string"},
            "event_id": {"type": "string"},
            "event_type": {"enum": list(EVENT_TYPES)},
            "subscription_id": {"type": "integer"},
            "status": {"enum": list(WEBHOOK_DELIVERY_STATUSES)},
            "attempts": {"type": "integer"},
            "last_status_code": _nullable("integer"),
            "last_error": _nullable("string"),
            "next_attempt_at": _nullable("string", format="date-time"),
            "delivered_at": _nullable("string", format="date-time"),
            "created_at": DATE_TIME,
        },
    },
}


def _paths() -> dict[str, Any]:
    appointment = _ok(_ref("Appointment"))
    return {
        "/api/v1/appointments": {
            "get": _operation(
                "listAppointments",
                "Appointments made or seen by the assistant",
                "read",
                _ok(_page_of("Appointment")),
                parameters=[
                    *PAGE_PARAMETERS,
                    _query("phone", "only this patient's phone", PHONE),
                    _query("cpf", "only this CPF"),
                    _query("status", "only this status", {"enum": list(APPOINTMENT_STATUSES)}),
                    _query("from", "starting at or after", DATE_TIME),
                    _query("to", "starting before", DATE_TIME),
                ],
                problems=(400,),
            ),
            "post": _operation(
                "bookAppointment",
                "Book a free slot in the agenda (the slots the bot would offer)",
                "write",
                _ok(_ref("Appointment"), 201, "Booked"),
                body={
                    "type": "object",
                    "required": ["phone", "cpf", "starts_at"],
                    "properties": {
                        "phone": PHONE,
                        "cpf": CPF,
                        "starts_at": DATE_TIME,
                        "patient_name": {"type": "string"},
                        "first_visit": {"type": "boolean"},
                    },
                },
                problems=(502, 503),
            ),
        },
        "/api/v1/appointments/{appointment_id}/reschedule": {
            "post": _operation(
                "rescheduleAppointment",
                "Move an appointment to another free slot",
                "write",
                appointment,
                parameters=[_path("appointment_id")],
                body={
                    "type": "object",
                    "required": ["starts_at"],
                    "properties": {"starts_at": DATE_TIME},
                },
                problems=(404, 502, 503),
            ),
        },
        "/api/v1/appointments/{appointment_id}/cancel": {
            "post": _operation(
                "cancelAppointment",
                "Cancel an appointment (the slot goes to the waiting list)",
                "write",
                _ok(
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "status": {"const": "canceled"},
                            "reason": {"type": "string"},
                        },
                    }
                ),
                parameters=[_path("appointment_id")],
                body={"type": "object", "properties": {"reason": {"type": "string"}}},
                problems=(404, 502, 503),
            ),
        },
        "/api/v1/waiting-list": {
            "get": _operation(
                "listWaitingList",
                "The waiting list, in arrival order",
                "read",
                _ok(_page_of("WaitingListEntry")),
                parameters=[
                    *PAGE_PARAMETERS,
                    _query("status", "only this status", {"enum": list(WAITING_LIST_STATUSES)}),
                ],
                problems=(400,),
            ),
            "post": _operation(
                "joinWaitingList",
                "Put a patient on the waiting list (again: updates, keeps the place)",
                "write",
                {
                    **_ok(_ref("JoinResult"), 201, "Joined"),
                    **_ok(_ref("JoinResult"), 200, "Already waiting: preferences updated"),
                },
                body={
                    "type": "object",
                    "required": ["phone", "cpf"],
                    "properties": {
                        "phone": PHONE,
                        "cpf": CPF,
                        "patient_name": {"type": "string"},
                        "specialty": {"type": "string"},
                        "preferred_period": {"enum": list(WAITING_LIST_PERIODS)},
                        "date_from": DATE,
                        "date_to": DATE,
                    },
                },
            ),
        },
        "/api/v1/waiting-list/{phone}": {
            "delete": _operation(
                "leaveWaitingList",
                "Take a patient off the waiting list (a slot on offer goes to the next one)",
                "write",
                _ok({"type": "object", "properties": {"phone": PHONE, "removed": {"const": True}}}),
                parameters=[_path("phone", PHONE)],
                problems=(400, 404),
            ),
        },
        "/api/v1/waiting-list/{phone}/position": {
            "get": _operation(
                "waitingListPosition",
                "A waiting patient's place (1 = next)",
                "read",
                _ok(
                    {
                        "type": "object",
                        "properties": {"phone": PHONE, "position": {"type": "integer"}},
                    }
                ),
                parameters=[_path("phone", PHONE)],
                problems=(400, 404),
            ),
        },
        "/api/v1/patients/{phone}/conversations": {
            "get": _operation(
                "exportConversations",
                "Every message to and from a patient (LGPD access right)",
                "admin",
                _ok(_page_of("Message")),
                parameters=[_path("phone", PHONE), *PAGE_PARAMETERS],
                problems=(400,),
            ),
        },
        "/api/v1/patients/{phone}": {
            "delete": _operation(
                "erasePatient",
                "Erase everything the assistant holds about a patient (GestãoDS is untouched)",
                "admin",
                _ok(
                    {
                        "type": "object",
                        "properties": {
                            "phone": PHONE,
                            "erased": {
                                "type": "object",
                                "additionalProperties": {"type": "integer"},
                                "description": "rows deleted per table",
                            },
                        },
                    }
                ),
                parameters=[_path("phone", PHONE)],
                problems=(400, 502, 504),
            ),
        },
        "/api/v1/metrics": {
            "get": _operation(
                "dailyMetrics",
                "The key's clinic's daily metrics over a date range (at most 366 days)",
                "read",
                _ok(
                    {
                        "type": "object",
                        "properties": {
                            "from": DATE,
                            "to": DATE,
                            "data": {"type": "array", "items": _ref("DailyMetrics")},
                        },
                    }
                ),
                parameters=[
                    {**_query("from", "first day (clinic date)", DATE), "required": True},
                    {**_query("to", "last day (clinic date)", DATE), "required": True},
                ],
                problems=(400,),
            ),
        },
        "/api/v1/webhooks/subscriptions": {
            "get": _operation(
                "listSubscriptions",
                "The clinic's webhook subscriptions",
                "admin",
                _ok(
                    {
                        "type": "object",
                        "properties": {"data": {"type": "array", "items": _ref("Subscription")}},
                    }
                ),
            ),
            "post": _operation(
                "createSubscription",
                "Subscribe a URL to events; the answer holds the signing secret, shown once",
                "admin",
                _ok(_ref("Subscription"), 201, "Created"),
                body={
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "event_types": {
                            "type": "array",
                            "items": {"enum": [*EVENT_TYPES, ALL_EVENTS]},
                        },
                        "description": {"type": "string"},
                    },
                },
            ),
        },
        "/api/v1/webhooks/subscriptions/{subscription_id}": {
            "delete": _operation(
                "deactivateSubscription",
                "Stop sending to a subscription (its delivery log stays)",
                "admin",
                _ok({"type": "object", "properties": {"id": {"type": "integer"}}}),
                parameters=[_path("subscription_id", {"type": "integer"})],
                problems=(404,),
            ),
        },
        "/api/v1/webhooks/deliveries": {
            "get": _operation(
                "listDeliveries",
                "The delivery log",
                "admin",
                _ok(_page_of("Delivery")),
                parameters=[
                    *PAGE_PARAMETERS,
                    _query("status", "only this status", {"enum": list(WEBHOOK_DELIVERY_STATUSES)}),
                    _query("subscription_id", "only this subscription", {"type": "integer"}),
                ],
                problems=(400,),
            ),
        },
        "/api/v1/webhooks/deliveries/{delivery_id}/replay": {
            "post": _operation(
                "replayDelivery",
                "Send a delivery's event again (new delivery id, same event id)",
                "admin",
                _ok(
                    {
                        "type": "object",
                        "properties": {
                            "delivery_id": {"type": "string"},
                            "replay_of": {"type": "string"},
                        },
                    },
                    202,
                    "Queued",
                ),
                parameters=[_path("delivery_id")],
                body={"type": "object"},
                problems=(404,),
            ),
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": _ok({"type": "object"}),
            }
        },
        "/api/v1/docs": {
            "get": {
                "operationId": "docs",
                "summary": "This document as a page",
                "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    schemas = {
        **SCHEMAS,
        "JoinResult": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "phone": PHONE,
                "position": {"type": "integer"},
                "already_waiting": {"type": "boolean"},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic assistant public API",
            "version": "1.0.0",
            "description": (
                "The clinic's other systems read and act on the assistant's data. Authenticate "
                "with an API key (Authorization: Bearer cbk_…; scopes read < write < admin). "
                "Every POST needs an Idempotency-Key. Lists are cursor-paginated. Errors are "
                "RFC 9457 problem details (application/problem+json) with English title/detail "
                "and Portuguese title_pt/detail_pt. Responses carry RateLimit-Limit and "
                "RateLimit-Remaining; over the limit → 429 with Retry-After. Message templates "
                "are not part of this version yet."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key created by staff (shown once)",
                }
            },
            "responses": {
                "Problem": {
                    "description": "A problem",
                    "content": {PROBLEM: {"schema": _ref("Problem")}},
                }
            },
        },
    }
