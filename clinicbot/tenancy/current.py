"""The acting clinic's configuration (:mod:`clinicbot.tenancy.context`), for code that used to
read the one clinic's: its settings (time zone, services, reminders) and FAQ facts.

The default clinic's come straight from the environment and ``clinic.yml``, with no database
read, so single-clinic deployments behave exactly as before. Other clinics' rows are read once
and kept for :data:`CACHE_SECONDS` (a change through the CLI reaches running processes within
that time).
"""

from __future__ import annotations

import threading
import time

from clinicbot.db.engine import session_scope
from clinicbot.services.clinic import Clinic, load_clinic
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.context import acting_for, current_clinic_id
from clinicbot.tenancy.registry import ClinicConfig, default_clinic, get_clinic

CACHE_SECONDS = 60.0
_cache: dict[int, tuple[float, ClinicConfig]] = {}
_lock = threading.Lock()


class UnknownClinic(LookupError):
    """Work for a clinic id that has no row."""


def clinic_config(clinic_id: int) -> ClinicConfig:
    """The configuration of ``clinic_id`` (cached)."""
    settings = get_settings()
    if clinic_id == DEFAULT_CLINIC_ID:
        return default_clinic(settings)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(clinic_id)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    with acting_for(None), session_scope() as session:
        config = get_clinic(session, clinic_id, settings)
    if config is None:
        raise UnknownClinic(f"no clinic {clinic_id}")
    with _lock:
        _cache[clinic_id] = (now, config)
    return config


def forget_clinics() -> None:
    """Drop the cached configurations (the next use reads the rows again)."""
    with _lock:
        _cache.clear()


def acting_clinic_id() -> int:
    """The clinic being acted for; the default clinic when none is."""
    clinic_id = current_clinic_id()
    return DEFAULT_CLINIC_ID if clinic_id is None else clinic_id


def current_settings() -> Settings:
    """The process's settings with the acting clinic's services, secrets and clock."""
    clinic_id = acting_clinic_id()
    if clinic_id == DEFAULT_CLINIC_ID:
        return get_settings()
    return clinic_config(clinic_id).settings(get_settings())


def current_facts() -> Clinic:
    """The acting clinic's FAQ facts (``clinic.yml`` for the default clinic)."""
    clinic_id = acting_clinic_id()
    if clinic_id == DEFAULT_CLINIC_ID:
        return load_clinic()
    return clinic_config(clinic_id).facts()
