"""Clinics as data: the ``clinics`` table read into :class:`ClinicConfig`.

Clinic 1 is the default clinic: its services, secrets and settings are the environment's
(:mod:`clinicbot.settings`), exactly as before there were clinics; only its slug, name and
``active`` come from its row. Every other clinic is configured by its row (secrets sealed by
:mod:`clinicbot.tenancy.secrets`), and :meth:`ClinicConfig.settings` turns it into the
:class:`~clinicbot.settings.Settings` the existing clients (GestãoDS, Z-API, Meta) are built
from, so they serve any clinic unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinicbot.db.models import ClinicRecord
from clinicbot.services.clinic import CLINIC_FILE, Clinic, load_clinic
from clinicbot.settings import Settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.secrets import SecretBox

# A secret kept in ``options`` (with the clinic's alert contacts), sealed like the secret
# columns.
SEALED_OPTIONS = ("alert_webhook_secret",)

SECRET_COLUMNS = (
    "gestaods_token",
    "zapi_instance_token",
    "zapi_client_token",
    "meta_access_token",
    "meta_app_secret",
    "meta_verify_token",
)


def token_digest(token: str) -> str:
    """What ``clinics.staff_token_sha256`` stores: staff tokens are random (256 bits), so a
    plain SHA-256 is enough; a leaked table does not give the tokens away."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ClinicConfig:
    """Everything one clinic's conversations, jobs and staff need to know about it."""

    id: int
    slug: str
    name: str
    timezone: str
    active: bool = True
    gestaods_base_url: str = ""
    gestaods_env: str = "prod"
    gestaods_token: str = ""
    zapi_instance_id: str = ""
    zapi_instance_token: str = ""
    zapi_client_token: str = ""
    meta_phone_number_id: str = ""
    meta_access_token: str = ""
    meta_app_secret: str = ""
    meta_verify_token: str = ""
    faq: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_CLINIC_ID

    def facts(self) -> Clinic:
        """The FAQ facts (what ``clinic.yml`` holds for the default clinic)."""
        return Clinic(**self.faq) if self.faq is not None else load_clinic(CLINIC_FILE)

    def settings(self, base: Settings) -> Settings:
        """``base`` (the process's settings) with this clinic's services, secrets and clock."""
        if self.is_default:
            return base
        options = self.options
        return dataclasses.replace(
            base,
            gestaods_base_url=self.gestaods_base_url or base.gestaods_base_url,
            gestaods_env=self.gestaods_env,
            gestaods_token=self.gestaods_token,
            zapi_instance_id=self.zapi_instance_id,
            zapi_instance_token=self.zapi_instance_token,
            zapi_client_token=self.zapi_client_token,
            meta_phone_number_id=self.meta_phone_number_id,
            meta_access_token=self.meta_access_token,
            meta_app_secret=self.meta_app_secret,
            meta_verify_token=self.meta_verify_token,
            clinic_tz_name=self.timezone,
            # Other hosts than the environment's: sandboxes and tests only.
            zapi_base_url=options.get("zapi_base_url") or base.zapi_base_url,
            meta_graph_url=options.get("meta_graph_url") or base.meta_graph_url,
            staff_token="",  # a clinic's staff token lives only as its digest
            reminder_hours_before=tuple(
                float(hours) for hours in options.get("reminder_hours_before", ())
            )
            or base.reminder_hours_before,
            quiet_hours_start=_time(options.get("quiet_hours_start"), base.quiet_hours_start),
            quiet_hours_end=_time(options.get("quiet_hours_end"), base.quiet_hours_end),
            # Only the clinic's own contacts: never the environment's (the default clinic's).
            alert_whatsapp_phone=str(options.get("alert_whatsapp_phone") or ""),
            alert_email_to=tuple(options.get("alert_email_to") or ()),
            alert_webhook_url=str(options.get("alert_webhook_url") or ""),
            alert_webhook_secret=str(options.get("alert_webhook_secret") or ""),
        )


def _time(value: Any, default: time) -> time:
    return time.fromisoformat(value) if isinstance(value, str) and value else default


def _from_row(row: ClinicRecord, box: SecretBox) -> ClinicConfig:
    return ClinicConfig(
        id=row.id,
        slug=row.slug,
        name=row.name,
        timezone=row.timezone,
        active=row.active,
        gestaods_base_url=row.gestaods_base_url or "",
        gestaods_env=row.gestaods_env,
        zapi_instance_id=row.zapi_instance_id or "",
        meta_phone_number_id=row.meta_phone_number_id or "",
        faq=row.faq,
        options=_sealed_options(dict(row.options or {}), box.open),
        **{column: box.open(getattr(row, column)) for column in SECRET_COLUMNS},
    )


def _sealed_options(options: dict[str, Any], change: Any) -> dict[str, Any]:
    """``options`` with each of :data:`SEALED_OPTIONS` passed through ``change`` (the box's
    ``seal``, ``open`` or ``rotate``)."""
    for name in SEALED_OPTIONS:
        if options.get(name):
            options[name] = change(options[name])
    return options


def default_clinic(settings: Settings, row: ClinicRecord | None = None) -> ClinicConfig:
    """Clinic 1 as the environment configures it (``row`` gives its slug, name and state)."""
    return ClinicConfig(
        id=DEFAULT_CLINIC_ID,
        slug=row.slug if row is not None else "default",
        name=row.name if row is not None else "Default clinic",
        timezone=settings.clinic_tz_name,
        active=row.active if row is not None else True,
        gestaods_base_url=settings.gestaods_base_url,
        gestaods_env=settings.gestaods_env,
        gestaods_token=settings.gestaods_token,
        zapi_instance_id=settings.zapi_instance_id,
        zapi_instance_token=settings.zapi_instance_token,
        zapi_client_token=settings.zapi_client_token,
        meta_phone_number_id=settings.meta_phone_number_id,
        meta_access_token=settings.meta_access_token,
        meta_app_secret=settings.meta_app_secret,
        meta_verify_token=settings.meta_verify_token,
    )


def _config(row: ClinicRecord | None, settings: Settings) -> ClinicConfig | None:
    if row is None:
        return None
    if row.id == DEFAULT_CLINIC_ID:
        return default_clinic(settings, row)
    return _from_row(row, SecretBox.from_settings(settings))


def get_clinic(session: Session, clinic_id: int, settings: Settings) -> ClinicConfig | None:
    """The clinic with this id (active or not), or None."""
    return _config(session.get(ClinicRecord, clinic_id), settings)


def clinic_by_slug(session: Session, slug: str, settings: Settings) -> ClinicConfig | None:
    row = session.execute(select(ClinicRecord).where(ClinicRecord.slug == slug)).scalar()
    return _config(row, settings)


def active_clinics(session: Session, settings: Settings) -> list[ClinicConfig]:
    """Every active clinic, by id (what the scheduler walks)."""
    rows = session.execute(
        select(ClinicRecord).where(ClinicRecord.active.is_(True)).order_by(ClinicRecord.id)
    ).scalars()
    return [config for row in rows if (config := _config(row, settings)) is not None]


def clinic_for_zapi_instance(
    session: Session, instance_id: str, settings: Settings
) -> ClinicConfig | None:
    """The active clinic whose Z-API instance this is (a webhook's ``instanceId``), or None."""
    return _clinic_by(
        session, ClinicRecord.zapi_instance_id, instance_id, settings.zapi_instance_id, settings
    )


def clinic_for_meta_phone(
    session: Session, phone_number_id: str, settings: Settings
) -> ClinicConfig | None:
    """The active clinic whose Meta phone number this is (a webhook's ``phone_number_id``)."""
    return _clinic_by(
        session,
        ClinicRecord.meta_phone_number_id,
        phone_number_id,
        settings.meta_phone_number_id,
        settings,
    )


def _clinic_by(
    session: Session, column: Any, value: str, default_value: str, settings: Settings
) -> ClinicConfig | None:
    """The active clinic whose ``column`` is ``value``; the environment's own value (
    ``default_value``) names the default clinic, whose row keeps no credentials."""
    if not value:
        return None
    if value == default_value:
        row = session.get(ClinicRecord, DEFAULT_CLINIC_ID)
    else:
        row = session.execute(
            select(ClinicRecord).where(column == value, ClinicRecord.id != DEFAULT_CLINIC_ID)
        ).scalar()
    config = _config(row, settings)
    return config if config is not None and config.active else None


def clinic_for_staff_token(session: Session, token: str, settings: Settings) -> int | None:
    """The id of the active clinic whose staff this bearer token belongs to, or None.

    ``STAFF_TOKEN`` is the default clinic's; every other clinic's is matched by digest.
    """
    if not token:
        return None
    if settings.staff_token and hmac.compare_digest(token, settings.staff_token):
        clinic_id: int | None = DEFAULT_CLINIC_ID
    else:
        clinic_id = session.execute(
            select(ClinicRecord.id).where(
                ClinicRecord.staff_token_sha256 == token_digest(token),
                ClinicRecord.id != DEFAULT_CLINIC_ID,
            )
        ).scalar()
    if clinic_id is None:
        return None
    active = session.execute(
        select(ClinicRecord.active).where(ClinicRecord.id == clinic_id)
    ).scalar()
    return clinic_id if active else None


@dataclass(frozen=True)
class NewClinic:
    """What ``clinics add`` is told; secrets in the clear (sealed on the way in)."""

    slug: str
    name: str
    timezone: str = "America/Sao_Paulo"
    gestaods_base_url: str = ""
    gestaods_env: str = "prod"
    gestaods_token: str = ""
    zapi_instance_id: str = ""
    zapi_instance_token: str = ""
    zapi_client_token: str = ""
    meta_phone_number_id: str = ""
    meta_access_token: str = ""
    meta_app_secret: str = ""
    meta_verify_token: str = ""
    faq: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


def read_faq(path: Path) -> dict[str, Any]:
    """A ``clinic.yml``-shaped file, checked by building its :class:`Clinic`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    Clinic(**data)  # TypeError for a missing or unknown key
    return dict(data)


def add_clinic(session: Session, new: NewClinic, settings: Settings) -> tuple[int, str]:
    """Store a clinic; its id and its staff token (shown once: only its digest is kept)."""
    ZoneInfo(new.timezone)  # refuses an unknown time zone
    box = SecretBox.from_settings(settings)
    staff_token = secrets.token_urlsafe(32)  # as new_staff_token makes them
    row = ClinicRecord(
        slug=new.slug,
        name=new.name,
        timezone=new.timezone,
        gestaods_base_url=new.gestaods_base_url or None,
        gestaods_env=new.gestaods_env,
        zapi_instance_id=new.zapi_instance_id or None,
        meta_phone_number_id=new.meta_phone_number_id or None,
        staff_token_sha256=token_digest(staff_token),
        faq=new.faq,
        options=_sealed_options(dict(new.options), box.seal) or None,
        **{column: box.seal(getattr(new, column)) for column in SECRET_COLUMNS},
    )
    session.add(row)
    session.flush()
    return int(row.id), staff_token


def new_staff_token(session: Session, slug: str) -> str | None:
    """Replace a clinic's staff token (the old one stops working at once); the new token, shown
    once, or None for no such clinic. The default clinic's is ``STAFF_TOKEN``."""
    row = session.execute(select(ClinicRecord).where(ClinicRecord.slug == slug)).scalar()
    if row is None or row.id == DEFAULT_CLINIC_ID:
        return None
    token = secrets.token_urlsafe(32)
    row.staff_token_sha256 = token_digest(token)
    return token


def set_active(session: Session, slug: str, active: bool) -> bool:
    """Enable or disable a clinic: a disabled one's webhooks get 404 and its staff 401."""
    row = session.execute(select(ClinicRecord).where(ClinicRecord.slug == slug)).scalar()
    if row is None:
        return False
    row.active = active
    return True


def rotate_secrets(session: Session, settings: Settings) -> int:
    """Re-encrypt every stored secret with the newest key; how many clinics were rewritten."""
    box = SecretBox.from_settings(settings)
    rows = session.execute(select(ClinicRecord)).scalars().all()
    for row in rows:
        for column in SECRET_COLUMNS:
            setattr(row, column, box.rotate(getattr(row, column)))
        if row.options:
            row.options = _sealed_options(dict(row.options), box.rotate)
    return len(rows)
