"""What production mode refuses to start with (``APP_ENV=production``).

Production talks to the real GestãoDS and WhatsApp providers only, so every credential comes
from the environment: nothing falls back to the sandbox values in :mod:`clinicbot.settings`,
and one of those values given explicitly is refused as well (they are public, in this
repository). Every problem is collected, so that one start-up message lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from clinicbot import settings as known
from clinicbot.tenancy.secrets import SANDBOX_SECRETS_KEY

REPOSITORY_SECRETS = frozenset(
    {
        known.SANDBOX_GESTAODS_TOKEN,
        known.SANDBOX_ZAPI_INSTANCE_ID,
        known.SANDBOX_ZAPI_INSTANCE_TOKEN,
        known.SANDBOX_ZAPI_CLIENT_TOKEN,
        known.SANDBOX_STAFF_TOKEN,
        known.SANDBOX_META_PHONE_NUMBER_ID,
        known.SANDBOX_META_ACCESS_TOKEN,
        known.SANDBOX_META_APP_SECRET,
        known.SANDBOX_META_VERIFY_TOKEN,
    }
)
ALWAYS_REQUIRED = ("GESTAODS_TOKEN", "STAFF_TOKEN")
CHANNELS = {
    "Z-API": ("ZAPI_INSTANCE_ID", "ZAPI_INSTANCE_TOKEN", "ZAPI_CLIENT_TOKEN"),
    "Meta": ("META_PHONE_NUMBER_ID", "META_ACCESS_TOKEN", "META_APP_SECRET", "META_VERIFY_TOKEN"),
}
# Secrets that may be left unset (generated per run or optional) but never be a repo value.
OPTIONAL_SECRETS = ("ZAPI_WEBHOOK_SECRET", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN")


class UnsafeConfiguration(SystemExit):
    """Start-up refused; the message lists every problem."""


def problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """Everything wrong with ``environ`` for production (empty when it is safe to start)."""
    environ = os.environ if environ is None else environ

    def value(name: str) -> str:
        return environ.get(name, "").strip()

    found = [f"{name} is not set" for name in ALWAYS_REQUIRED if not value(name)]
    configured = {
        channel: [name for name in names if value(name)] for channel, names in CHANNELS.items()
    }
    for channel, names in CHANNELS.items():
        missing = [name for name in names if name not in configured[channel]]
        if configured[channel] and missing:
            found.append(f"the {channel} channel is half configured: set {', '.join(missing)}")
    if not any(set(configured[channel]) == set(CHANNELS[channel]) for channel in CHANNELS):
        found.append(
            "no WhatsApp channel is configured: set every variable of Z-API "
            f"({', '.join(CHANNELS['Z-API'])}) or of Meta ({', '.join(CHANNELS['Meta'])})"
        )
    checked = (*ALWAYS_REQUIRED, *(n for names in CHANNELS.values() for n in names))
    for name in (*checked, *OPTIONAL_SECRETS):
        if value(name) in REPOSITORY_SECRETS:
            found.append(f"{name} is the repository's public sandbox value")
    # Optional (only clinics beyond the default one need it), never the sandbox key.
    if SANDBOX_SECRETS_KEY in (key.strip() for key in value("CLINIC_SECRETS_KEYS").split(",")):
        found.append("CLINIC_SECRETS_KEYS holds the repository's public sandbox key")
    return found + alert_channel_problems(value)


def alert_channel_problems(value: Callable[[str], str]) -> list[str]:
    """Alert channels must not carry the clinic's operations in clear over the network."""
    found = []
    webhook = urlsplit(value("ALERT_WEBHOOK_URL"))
    if webhook.scheme == "http" and webhook.hostname not in ("127.0.0.1", "localhost", "::1"):
        found.append("ALERT_WEBHOOK_URL must be https:// (or on this machine)")
    smtp_host = value("SMTP_HOST")
    if (
        value("SMTP_SECURITY").lower() == "none"
        and value("SMTP_USER")
        and smtp_host not in ("127.0.0.1", "localhost", "::1")
    ):
        found.append("SMTP_SECURITY=none would send SMTP_PASSWORD in clear: use starttls or ssl")
    return found


def require_safe_environment(environ: Mapping[str, str] | None = None) -> None:
    """In production, stop with one message listing every missing or unsafe variable."""
    environ = os.environ if environ is None else environ
    if environ.get("APP_ENV", "").strip().lower() != "production":
        return
    found = problems(environ)
    if found:
        listed = "\n".join(f"  - {problem}" for problem in found)
        raise UnsafeConfiguration(f"APP_ENV=production refuses to start:\n{listed}")
