"""Clinics as data: the default clinic is the environment's; others are rows with sealed
secrets, found by their Z-API instance, Meta phone number or staff token."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.services.clinic import CLINIC_FILE, load_clinic
from clinicbot.settings import Settings
from clinicbot.tenancy.registry import (
    NewClinic,
    add_clinic,
    clinic_by_slug,
    clinic_for_meta_phone,
    clinic_for_staff_token,
    clinic_for_zapi_instance,
    get_clinic,
    read_faq,
    rotate_secrets,
    set_active,
)

SUL = NewClinic(
    slug="sul",
    name="Clínica Sul",
    timezone="America/Manaus",
    gestaods_token="sul-agenda-token",
    zapi_instance_id="SULINSTANCE",
    zapi_instance_token="sul-instance-token",
    zapi_client_token="sul-client-token",
    meta_phone_number_id="200000000000002",
    meta_access_token="sul-meta-access",
    meta_app_secret="sul-meta-secret",
    meta_verify_token="sul-meta-verify",
    faq=read_faq(CLINIC_FILE) | {"name": "Clínica Sul"},
    options={"reminder_hours_before": [48], "quiet_hours_start": "20:00"},
)


def test_the_default_clinic_is_the_environment_setup(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        default = get_clinic(session, 1, settings)
        assert default is not None
        assert default.zapi_instance_id == settings.zapi_instance_id
        assert default.gestaods_token == settings.gestaods_token
        assert default.settings(settings) is settings
        assert default.facts() == load_clinic(CLINIC_FILE)
        found = clinic_for_zapi_instance(session, settings.zapi_instance_id, settings)
        assert found is not None and found.id == 1
        assert clinic_for_staff_token(session, settings.staff_token, settings) == 1


def test_a_clinic_row_keeps_its_secrets_sealed(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        clinic_id, staff_token = add_clinic(session, SUL, settings)
    assert clinic_id > 1
    with engine.connect() as connection:
        stored = " ".join(
            str(value)
            for value in connection.execute(
                text("SELECT * FROM clinics WHERE id = :id"), {"id": clinic_id}
            ).one()
        )
    for secret in ("sul-agenda-token", "sul-instance-token", "sul-meta-secret", staff_token):
        assert secret not in stored
    with session_scope(engine) as session:
        sul = clinic_by_slug(session, "sul", settings)
    assert sul is not None and sul.zapi_instance_token == "sul-instance-token"
    own = sul.settings(settings)
    assert own.zapi_instance_id == "SULINSTANCE" and own.gestaods_token == "sul-agenda-token"
    assert own.clinic_tz_name == "America/Manaus" and own.reminder_hours_before == (48.0,)
    assert own.quiet_hours_start.hour == 20 and own.staff_token == ""
    assert sul.facts().name == "Clínica Sul"


def test_webhook_ids_and_staff_tokens_select_their_clinic(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        clinic_id, staff_token = add_clinic(session, SUL, settings)
    with session_scope(engine) as session:
        zapi = clinic_for_zapi_instance(session, "SULINSTANCE", settings)
        meta = clinic_for_meta_phone(session, "200000000000002", settings)
        assert zapi is not None and zapi.id == clinic_id
        assert meta is not None and meta.id == clinic_id
        assert clinic_for_zapi_instance(session, "UNKNOWN", settings) is None
        assert clinic_for_staff_token(session, staff_token, settings) == clinic_id
        assert clinic_for_staff_token(session, staff_token + "x", settings) is None
        assert clinic_for_staff_token(session, "", settings) is None


def test_a_disabled_clinic_is_not_served(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        _, staff_token = add_clinic(session, SUL, settings)
    with session_scope(engine) as session:
        assert set_active(session, "sul", False)
        assert not set_active(session, "nope", False)
    with session_scope(engine) as session:
        assert clinic_for_zapi_instance(session, "SULINSTANCE", settings) is None
        assert clinic_for_staff_token(session, staff_token, settings) is None


def test_rotating_the_key_rewrites_every_secret(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        add_clinic(session, SUL, settings)
    new_key = Fernet.generate_key().decode()
    both = dataclasses.replace(
        settings, clinic_secrets_keys=f"{new_key},{settings.clinic_secrets_keys}"
    )
    with session_scope(engine) as session:
        assert rotate_secrets(session, both) == 2
    only_new = dataclasses.replace(settings, clinic_secrets_keys=new_key)
    with session_scope(engine) as session:
        sul = clinic_by_slug(session, "sul", only_new)
    assert sul is not None and sul.gestaods_token == "sul-agenda-token"


def test_an_unknown_time_zone_is_refused(engine: Engine, settings: Settings) -> None:
    with pytest.raises(Exception, match="Mars"), session_scope(engine) as session:
        add_clinic(session, NewClinic(slug="x", name="X", timezone="Mars/Olympus"), settings)
