"""The bot's own services, built once per clinic-service app for the API's routes."""

from __future__ import annotations

from dataclasses import dataclass

from sanic import Sanic

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.booking import BookingService
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.services.waiting_list import WaitingListService
from clinicbot.web.database import service_engine


@dataclass(frozen=True)
class ApiServices:
    booking: BookingService
    waiting_list: WaitingListService


def api_services(app: Sanic) -> ApiServices:
    """The same booking and waiting-list services the actions use, on the app's database."""
    if getattr(app.ctx, "api_services", None) is None:
        settings = app.ctx.settings
        engine = service_engine(app)
        agenda = GestaoDSClient.from_settings(settings)
        waiting_list = WaitingListService(
            agenda=agenda, engine=engine, policy=NotificationPolicy.from_settings(settings)
        )
        booking = BookingService(agenda=agenda, waiting_list=waiting_list, engine=engine)
        app.ctx.api_services = ApiServices(booking, waiting_list)
    services: ApiServices = app.ctx.api_services
    return services
