"""The services the actions share, built once per clinic in each action-server process.

The action server runs each action for the clinic of its conversation
(:mod:`clinicbot.rasa.action_server`); these return that clinic's.
"""

from __future__ import annotations

from functools import cache

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.api_log import record_api_call
from clinicbot.services.booking import BookingService
from clinicbot.services.waiting_list import WaitingListService
from clinicbot.tenancy.current import acting_clinic_id, current_settings


def agenda() -> GestaoDSClient:
    """The acting clinic's agenda client."""
    return _agenda(acting_clinic_id())


def waiting_list_service() -> WaitingListService:
    return _waiting_list_service(acting_clinic_id())


def booking_service() -> BookingService:
    return _booking_service(acting_clinic_id())


@cache
def _agenda(clinic_id: int) -> GestaoDSClient:
    """One client per clinic and process: its circuit breaker and cache must see every call."""
    return GestaoDSClient.from_settings(current_settings(), on_call=record_api_call)


@cache
def _waiting_list_service(clinic_id: int) -> WaitingListService:
    return WaitingListService(agenda=_agenda(clinic_id))


@cache
def _booking_service(clinic_id: int) -> BookingService:
    return BookingService(agenda=_agenda(clinic_id), waiting_list=_waiting_list_service(clinic_id))
