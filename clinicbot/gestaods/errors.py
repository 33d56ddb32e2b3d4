"""Errors raised by the GestãoDS client.

Everything derives from :class:`GestaoDSError`, so a caller that only wants "the agenda did not
work" catches that. The subclasses are the cases the conversation handles differently.
"""

from __future__ import annotations

from typing import Any


class GestaoDSError(Exception):
    """The API answered with an error the client cannot map to anything more specific."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GestaoDSUnavailable(GestaoDSError):
    """5xx, timeout, connection error, or the circuit breaker is open: try again later.

    ``reached_api`` is False when the request surely never reached the API (the connection was
    refused or never made, the breaker was open): a write then certainly did not happen.
    """

    reached_api: bool = True


class CircuitOpen(GestaoDSUnavailable):
    """The circuit breaker is open after repeated failures: the request was not sent."""

    reached_api = False


class BookingOutcomeUnknown(GestaoDSUnavailable):
    """A booking request failed in transit (timeout, dropped connection, 5xx) and the follow-up
    lookup did not find the appointment, or failed too.

    The appointment may or may not exist, and may still appear (GestãoDS can commit after its
    answer was lost): the caller must not book again, but look for it for a while
    (:mod:`clinicbot.services.booking_attempts`).
    """


class InvalidToken(GestaoDSError):
    """The agenda token was refused (``{"message":"Informe um token valido!","status":400}``)."""


class SlotUnavailable(GestaoDSError):
    """The chosen slot is taken, outside the agenda, or in the past."""


class PatientNotFound(GestaoDSError):
    """An operation that needs a registered patient got an unknown CPF."""


class AppointmentNotFound(GestaoDSError):
    """The appointment id is unknown to the agenda."""


class ValidationError(GestaoDSError):
    """HTTP 422; FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` list is kept in ``detail``."""

    def __init__(self, message: str, detail: Any = None, status: int | None = 422) -> None:
        super().__init__(message, status)
        self.detail = detail
