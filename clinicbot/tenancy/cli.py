"""``python -m clinicbot.cli clinics add|list|show|disable|enable|rotate-secrets|staff-token|
export|erase``.

Secrets are read from the environment variables named by ``--*-token-env`` options (never from
the command line, which ``ps`` and shell histories show). ``add`` prints the clinic's staff
token once; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicbot.db.engine import get_engine, session_scope
from clinicbot.db.models import ClinicRecord
from clinicbot.settings import get_settings
from clinicbot.tenancy.clinic_data import DefaultClinicErasure, erase_clinic, export_clinic_to
from clinicbot.tenancy.current import forget_clinics
from clinicbot.tenancy.registry import (
    SEALED_OPTIONS,
    NewClinic,
    add_clinic,
    clinic_by_slug,
    new_staff_token,
    read_faq,
    rotate_secrets,
    set_active,
)

# NewClinic field → the option naming the environment variable that holds it.
SECRET_OPTIONS = {
    "gestaods_token": "--gestaods-token-env",
    "zapi_instance_token": "--zapi-instance-token-env",
    "zapi_client_token": "--zapi-client-token-env",
    "meta_access_token": "--meta-access-token-env",
    "meta_app_secret": "--meta-app-secret-env",
    "meta_verify_token": "--meta-verify-token-env",
}


def _secret(args: argparse.Namespace, field: str) -> str:
    variable = getattr(args, field + "_env")
    if not variable:
        return ""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise SystemExit(f"error: environment variable {variable} is empty or unset")
    return value


def add(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {}
    if args.reminder_hours:
        options["reminder_hours_before"] = [float(h) for h in args.reminder_hours.split(",")]
    for name in ("quiet_hours_start", "quiet_hours_end", "alert_whatsapp_phone"):
        if getattr(args, name):
            options[name] = getattr(args, name)
    if args.alert_email:
        options["alert_email_to"] = [a.strip() for a in args.alert_email.split(",") if a.strip()]
    if args.alert_webhook_url:
        options["alert_webhook_url"] = args.alert_webhook_url
        if args.alert_webhook_secret_env:
            options["alert_webhook_secret"] = _secret(args, "alert_webhook_secret")
    new = NewClinic(
        slug=args.slug,
        name=args.name,
        timezone=args.timezone,
        gestaods_base_url=args.gestaods_base_url or "",
        gestaods_env=args.gestaods_env,
        zapi_instance_id=args.zapi_instance_id or "",
        meta_phone_number_id=args.meta_phone_number_id or "",
        faq=read_faq(Path(args.faq_file)) if args.faq_file else None,
        options=options,
        **{field: _secret(args, field) for field in SECRET_OPTIONS},
    )
    with session_scope() as session:
        clinic_id, staff_token = add_clinic(session, new, get_settings())
    print(f"clinic {args.slug} added with id {clinic_id}")
    print(f"staff token (shown only now): {staff_token}")
    return 0


def list_clinics(_: argparse.Namespace) -> int:
    with session_scope() as session:
        rows = session.execute(select(ClinicRecord).order_by(ClinicRecord.id)).scalars().all()
        for row in rows:
            state = "active" if row.active else "disabled"
            print(f"{row.id}\t{row.slug}\t{state}\t{row.timezone}\t{row.name}")
    return 0


def show(args: argparse.Namespace) -> int:
    """A clinic's configuration, every secret shown only as set or not."""
    with session_scope() as session:
        clinic = clinic_by_slug(session, args.slug, get_settings())
    if clinic is None:
        print(f"error: no clinic {args.slug}")
        return 1
    shown: dict[str, Any] = {
        "id": clinic.id,
        "slug": clinic.slug,
        "name": clinic.name,
        "timezone": clinic.timezone,
        "active": clinic.active,
        "gestaods_base_url": clinic.gestaods_base_url,
        "gestaods_env": clinic.gestaods_env,
        "zapi_instance_id": clinic.zapi_instance_id,
        "meta_phone_number_id": clinic.meta_phone_number_id,
        "faq": "clinic.yml" if clinic.faq is None else "stored",
        "options": {
            name: "set" if name in SEALED_OPTIONS else value
            for name, value in clinic.options.items()
        },
        "configured_by": "environment" if clinic.is_default else "clinics table",
    }
    for field in SECRET_OPTIONS:
        shown[field] = "set" if getattr(clinic, field) else "unset"
    print(json.dumps(shown, ensure_ascii=False, indent=2))
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    with session_scope() as session:
        found = set_active(session, args.slug, active)
    if not found:
        print(f"error: no clinic {args.slug}")
        return 1
    print(f"clinic {args.slug} {'enabled' if active else 'disabled'}")
    return 0


def renew_staff_token(args: argparse.Namespace) -> int:
    with session_scope() as session:
        token = new_staff_token(session, args.slug)
    if token is None:
        print(f"error: no clinic {args.slug} other than the default one (its token: STAFF_TOKEN)")
        return 1
    print(f"clinic {args.slug}: new staff token (shown only now; the old one no longer works):")
    print(token)
    return 0


def rotate(_: argparse.Namespace) -> int:
    with session_scope() as session:
        count = rotate_secrets(session, get_settings())
    print(f"secrets of {count} clinic(s) re-encrypted with the first CLINIC_SECRETS_KEYS key")
    return 0


def _clinic_id(slug: str) -> int | None:
    with session_scope() as session:
        clinic = clinic_by_slug(session, slug, get_settings())
    return None if clinic is None else clinic.id


def export(args: argparse.Namespace) -> int:
    """One clinic's data as JSON Lines (:mod:`clinicbot.tenancy.clinic_data`)."""
    clinic_id = _clinic_id(args.slug)
    if clinic_id is None:
        print(f"error: no clinic {args.slug}")
        return 1
    try:
        counts = export_clinic_to(get_engine(), clinic_id, Path(args.output))
    except FileExistsError:
        print(f"error: {args.output} exists; the export never overwrites a file")
        return 1
    print(f"clinic {args.slug}: {sum(counts.values())} rows exported to {args.output}")
    print(json.dumps(counts, indent=2, sort_keys=True))
    return 0


def erase(args: argparse.Namespace) -> int:
    """Every row of one clinic, and the clinic itself, deleted (export it first)."""
    clinic_id = _clinic_id(args.slug)
    if clinic_id is None:
        print(f"error: no clinic {args.slug}")
        return 1
    if args.confirm != args.slug:
        print(f"error: pass --confirm {args.slug} to erase every row of this clinic")
        return 1
    try:
        erased = erase_clinic(get_engine(), clinic_id)
    except DefaultClinicErasure as error:
        print(f"error: {error}")
        return 1
    forget_clinics()
    print(f"clinic {args.slug} erased: {sum(erased.values())} rows")
    print(json.dumps(erased, indent=2, sort_keys=True))
    return 0


def add_parser(commands: Any) -> None:
    """The ``clinics`` command and its subcommands, on the main parser's subparsers."""
    parser = commands.add_parser("clinics", help="the clinics this deployment serves")
    sub = parser.add_subparsers(dest="clinics_command", required=True)
    adding = sub.add_parser("add", help="add a clinic (prints its staff token once)")
    adding.add_argument("slug")
    adding.add_argument("--name", required=True)
    adding.add_argument("--timezone", default="America/Sao_Paulo")
    adding.add_argument("--gestaods-base-url")
    adding.add_argument("--gestaods-env", choices=("prod", "dev"), default="prod")
    adding.add_argument("--zapi-instance-id")
    adding.add_argument("--meta-phone-number-id")
    adding.add_argument("--faq-file", help="a clinic.yml-shaped file (default: clinic.yml)")
    adding.add_argument("--reminder-hours", help="e.g. 24,2")
    adding.add_argument("--quiet-hours-start", help="HH:MM")
    adding.add_argument("--quiet-hours-end", help="HH:MM")
    # Where the clinic's alerts go (none: they are only recorded, on its staff's dashboard).
    adding.add_argument("--alert-whatsapp-phone", help="the clinic's staff phone for alerts")
    adding.add_argument("--alert-email", help="addresses for alerts, comma-separated")
    adding.add_argument("--alert-webhook-url")
    adding.add_argument("--alert-webhook-secret-env", metavar="VAR")
    for field, option in SECRET_OPTIONS.items():
        adding.add_argument(option, dest=field + "_env", metavar="VAR")
    adding.set_defaults(handler=add)
    sub.add_parser("list", help="every clinic").set_defaults(handler=list_clinics)
    showing = sub.add_parser("show", help="one clinic, secrets as set/unset")
    showing.add_argument("slug")
    showing.set_defaults(handler=show)
    disabling = sub.add_parser("disable", help="stop serving a clinic (webhooks 404, staff 401)")
    disabling.add_argument("slug")
    disabling.set_defaults(handler=lambda args: _set_active(args, False))
    enabling = sub.add_parser("enable", help="serve a disabled clinic again")
    enabling.add_argument("slug")
    enabling.set_defaults(handler=lambda args: _set_active(args, True))
    sub.add_parser(
        "rotate-secrets", help="re-encrypt every secret with the newest key"
    ).set_defaults(handler=rotate)
    renewing = sub.add_parser("staff-token", help="replace a clinic's staff token (printed once)")
    renewing.add_argument("slug")
    renewing.set_defaults(handler=renew_staff_token)
    exporting = sub.add_parser("export", help="one clinic's data as JSON Lines")
    exporting.add_argument("slug")
    exporting.add_argument("--output", required=True, help="a new file (never overwritten)")
    exporting.set_defaults(handler=export)
    erasing = sub.add_parser("erase", help="delete one clinic and all its data (not clinic 1)")
    erasing.add_argument("slug")
    erasing.add_argument("--confirm", required=True, metavar="SLUG", help="the slug again")
    erasing.set_defaults(handler=erase)
