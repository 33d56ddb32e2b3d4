"""The services the actions share, built once per action-server process."""

from __future__ import annotations

from functools import lru_cache

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.api_log import record_api_call
from clinicbot.services.booking import BookingService
from clinicbot.services.waiting_list import WaitingListService


@lru_cache(maxsize=1)
def agenda() -> GestaoDSClient:
    """One client per process: its circuit breaker and cache must see every call."""
    return GestaoDSClient.from_settings(on_call=record_api_call)


@lru_cache(maxsize=1)
def waiting_list_service() -> WaitingListService:
    return WaitingListService(agenda=agenda())


@lru_cache(maxsize=1)
def booking_service() -> BookingService:
    return BookingService(agenda=agenda(), waiting_list=waiting_list_service())
