"""The services the actions share, built once per action-server process."""

from __future__ import annotations

from functools import lru_cache

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.booking import BookingService


@lru_cache(maxsize=1)
def booking_service() -> BookingService:
    return BookingService(agenda=GestaoDSClient.from_settings())
