"""The bot's own services for the API's routes: those of the clinic the request's key belongs
to, built once per clinic and app so that each agenda client keeps one circuit breaker."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

from sanic import Request, Sanic

from clinicbot.db.engine import session_scope
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.booking import BookingService
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.services.waiting_list import WaitingListService
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for, current_clinic_id
from clinicbot.tenancy.current import UnknownClinic
from clinicbot.tenancy.registry import ClinicConfig, get_clinic
from clinicbot.web.database import service_engine

# How long a clinic's configuration is trusted before it is read again (a rotated GestãoDS
# token, a disabled clinic): as long as the assistant's own processes trust theirs.
CONFIG_SECONDS = 60.0

_lock = threading.Lock()


@dataclass(frozen=True)
class ApiServices:
    clinic: ClinicConfig
    settings: Settings  # the clinic's: its agenda, secrets and time zone
    booking: BookingService
    waiting_list: WaitingListService


def clinic_services(app: Sanic, clinic_id: int) -> ApiServices:
    """The services of ``clinic_id`` (the same booking and waiting-list services its actions
    use), rebuilt only when the clinic's configuration changed. Blocking: run it off the loop.
    Raises :class:`~clinicbot.tenancy.current.UnknownClinic`, also while acting for another
    clinic (whose code has no business with this one's agenda and secrets)."""
    acting = current_clinic_id()
    if acting is not None and acting != clinic_id:
        raise UnknownClinic(f"acting for clinic {acting}, not {clinic_id}")
    with _lock:
        built: dict[int, tuple[float, ApiServices]] = vars(app.ctx).setdefault("api_services", {})
        cached = built.get(clinic_id)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CONFIG_SECONDS:
        return cached[1]
    engine = service_engine(app)
    with acting_for(None), session_scope(engine) as session:
        clinic = get_clinic(session, clinic_id, app.ctx.settings)
    if clinic is None:
        raise UnknownClinic(f"no clinic {clinic_id}")
    settings = clinic.settings(app.ctx.settings)
    if cached is not None and cached[1].settings == settings:
        services = dataclasses.replace(cached[1], clinic=clinic)
    else:
        agenda = GestaoDSClient.from_settings(settings)
        waiting_list = WaitingListService(
            agenda=agenda, engine=engine, policy=NotificationPolicy.from_settings(settings)
        )
        booking = BookingService(agenda=agenda, waiting_list=waiting_list, engine=engine)
        services = ApiServices(clinic, settings, booking, waiting_list)
    with _lock:
        built[clinic_id] = (now, services)
    return services


def api_services(request: Request) -> ApiServices:
    """The services of the clinic the request acts for (set by
    :func:`~clinicbot.api.endpoint.endpoint`)."""
    services: ApiServices = request.ctx.api_services
    return services
