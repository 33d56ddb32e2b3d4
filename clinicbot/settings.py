"""Every environment variable the project reads, in one place.

Processes (rasa server, action server, clinic service, sandbox) all build their configuration
with :func:`get_settings`; nothing else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from clinicbot import clock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'clinicbot.db'}"
SANDBOX_PORT = 8088
SANDBOX_BASE_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
# Credentials the sandbox fakes accept; they mean nothing outside this machine.
SANDBOX_GESTAODS_TOKEN = "sandbox-agenda-token"
SANDBOX_ZAPI_INSTANCE_ID = "SANDBOXINSTANCE0001"
SANDBOX_ZAPI_INSTANCE_TOKEN = "sandbox-instance-token"
SANDBOX_ZAPI_CLIENT_TOKEN = "sandbox-client-token"
SANDBOX_STAFF_TOKEN = "sandbox-staff-token"
SANDBOX_META_PHONE_NUMBER_ID = "100000000000001"
SANDBOX_META_ACCESS_TOKEN = "sandbox-meta-access-token"
SANDBOX_META_APP_SECRET = "sandbox-meta-app-secret"
SANDBOX_META_VERIFY_TOKEN = "sandbox-meta-verify-token"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(value: str) -> tuple[int, ...]:
    """``mon,tue,…`` as weekday numbers (Monday = 0)."""
    names = [name.strip().lower()[:3] for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in WEEKDAYS]
    if unknown:
        raise ValueError(f"BUSINESS_DAYS: unknown day(s) {unknown}; use {','.join(WEEKDAYS)}")
    return tuple(sorted({WEEKDAYS.index(name) for name in names}))


def is_production() -> bool:
    """``APP_ENV=production``: real services only, no repository secret, loopback binds."""
    return _env("APP_ENV", "sandbox").lower() == "production"


@dataclass(frozen=True)
class Settings:
    """Configuration of one process, read from the environment."""

    database_url: str
    redis_url: str
    # Prefix of Rasa's lock keys in Redis (letters and digits only, or Rasa ignores it):
    # deployments sharing one Redis need different ones.
    redis_lock_prefix: str
    gestaods_base_url: str
    gestaods_token: str
    gestaods_env: str
    zapi_base_url: str
    zapi_instance_id: str
    zapi_instance_token: str
    zapi_client_token: str
    clinic_tz_name: str
    action_server_url: str
    clinic_service_port: int
    rasa_port: int
    rasa_api_token: str
    staff_token: str
    # Every database connection (clinicbot/db/engine.py): PostgreSQL's connect and statement
    # timeouts (0 = no statement timeout).
    database_connect_timeout_seconds: float = 5.0
    database_statement_timeout_seconds: float = 30.0
    # The clinic service's calls to rasa's HTTP API (handing a conversation back to the bot).
    rasa_api_timeout_seconds: float = 10.0
    # Notifications and waiting list (clinicbot/services/notifications/, waiting_list.py).
    reminder_hours_before: tuple[float, ...] = (24.0, 2.0)
    quiet_hours_start: time = time(21)
    quiet_hours_end: time = time(8)
    waitlist_offer_minutes: int = 30
    booking_min_lead_minutes: int = 30
    scheduler_enabled: bool = True
    scheduler_poll_seconds: int = 30
    availability_poll_minutes: int = 15
    # How long a GestãoDS request may take before it counts as failed (clinicbot/gestaods/).
    gestaods_timeout_seconds: float = 10.0
    # Uncertain bookings (clinicbot/services/booking_attempts.py): a booking whose answer was
    # lost is looked for in the agenda every ``interval`` seconds for ``window`` seconds.
    booking_check_interval_seconds: float = 30.0
    booking_check_window_seconds: float = 300.0
    # Conversation messages older than this are deleted (whole monthly partitions on PostgreSQL).
    message_retention_months: int = 12
    # WhatsApp channels (clinicbot/whatsapp).
    zapi_webhook_secret: str = ""
    zapi_delay_typing: int = 0
    # Outbox (clinicbot/whatsapp/delivery.py): how long a message is retried before it is dead,
    # and the longest wait between two attempts.
    outbox_retry_hours: float = 24.0
    outbox_retry_max_seconds: float = 600.0
    # Inbound turns (clinicbot/whatsapp/turns.py): attempts before a message is dead, and the
    # waits between them (exponential from the first, capped).
    turn_retry_attempts: int = 6
    turn_retry_initial_seconds: float = 5.0
    turn_retry_max_seconds: float = 120.0
    meta_graph_url: str = SANDBOX_BASE_URL
    meta_api_version: str = "v21.0"
    meta_phone_number_id: str = SANDBOX_META_PHONE_NUMBER_ID
    meta_access_token: str = SANDBOX_META_ACCESS_TOKEN
    meta_app_secret: str = SANDBOX_META_APP_SECRET
    meta_verify_token: str = SANDBOX_META_VERIFY_TOKEN
    meta_template_name: str = ""
    meta_template_language: str = "pt_BR"
    # Abuse limits per phone (clinicbot/whatsapp/throttle.py, ordering.py, webhook.py):
    # a token bucket of ``rate_limit_burst`` messages refilled ``rate_limit_per_minute`` times
    # a minute (0: no limit), at most ``max_queued_turns`` turns waiting per phone, and the
    # largest webhook body accepted.
    rate_limit_burst: int = 5
    rate_limit_per_minute: float = 12.0
    max_queued_turns: int = 10
    webhook_max_bytes: int = 65536
    production: bool = False
    # Rasa's action endpoint sends this as ?token=; the action server refuses anything else.
    action_server_token: str = ""
    # Interfaces the processes listen on: loopback unless told otherwise (nginx in front).
    rasa_host: str = "127.0.0.1"
    action_server_host: str = "127.0.0.1"
    action_server_workers: int = 1
    clinic_service_host: str = "127.0.0.1"
    # Backups (clinicbot/services/backups): when, on the clinic's wall clock ("HH:MM" or a
    # crontab line; "off": no scheduled backup), where, how many are kept, the optional upload
    # to S3-compatible storage (the access key falls back to boto3's own chain when unset).
    backup_schedule: str = "02:00"
    backup_dir: str = str(VAR_DIR / "backups")
    backup_keep_daily: int = 7
    backup_keep_weekly: int = 4
    backup_keep_monthly: int = 6
    backup_timeout_seconds: float = 3600.0
    backup_s3_bucket: str = ""
    backup_s3_prefix: str = "clinicbot/"
    backup_s3_endpoint_url: str = ""
    backup_s3_region: str = "us-east-1"
    backup_s3_access_key_id: str = ""
    backup_s3_secret_access_key: str = ""
    # Alerts to the clinic's staff (clinicbot/services/alerts): checked by the scheduler every
    # ``alert_check_seconds``; delivered on every channel configured (none: only recorded).
    alerts_enabled: bool = True
    alert_check_seconds: int = 60
    alert_whatsapp_phone: str = ""
    alert_whatsapp_channel: str = "zapi"
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = 10.0
    alert_webhook_url: str = ""
    alert_webhook_secret: str = ""
    alert_webhook_timeout_seconds: float = 10.0
    # What raises an alert: GestãoDS failing over the last window (share of failed calls, with
    # at least a few calls), dead letters in the last hours, no patient message for this many
    # business hours (0: never), the last backup failed or older than this.
    alert_gestaods_window_minutes: int = 10
    alert_gestaods_error_rate: float = 0.5
    alert_gestaods_min_calls: int = 5
    alert_dead_letter_hours: float = 24.0
    alert_silence_business_hours: float = 4.0
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    business_hours_start: time = time(8)
    business_hours_end: time = time(18)
    backup_max_age_hours: float = 26.0
    # Public API (clinicbot/api/): requests per minute of a key that sets no limit of its own.
    api_rate_limit_per_minute: int = 120
    # CRM webhooks (clinicbot/integrations/webhooks.py): the worker runs in the clinic service;
    # a delivery is retried for ``webhook_retry_hours``, waiting at most the max between tries.
    webhooks_enabled: bool = True
    webhook_retry_hours: float = 72.0
    webhook_retry_max_seconds: float = 600.0
    # Operations (issue #13): log level and format (text or json) of every process, whether
    # /metrics and the detailed health answer, and how long api_call_logs rows are kept.
    log_level: str = "INFO"
    log_format: str = "text"
    monitoring_enabled: bool = True
    api_log_retention_days: int = 30
    health_cache_seconds: float = 5.0
    # Fernet keys of the clinics' secrets at rest, comma-separated, newest first
    # (clinicbot/tenancy/secrets.py); empty outside production: a sandbox key is used.
    clinic_secrets_keys: str = ""
    # Satisfaction survey (clinicbot/messages/satisfaction.py): asked this long after a booking
    # made through the assistant, at most once per patient per ``feedback_every_days``; a
    # rating at or under ``feedback_alert_at_most`` alerts staff.
    feedback_enabled: bool = True
    feedback_delay_minutes: int = 30
    feedback_every_days: int = 30
    feedback_alert_at_most: int = 2
    # How often each process checks whether the clinic's templates changed (clinicbot/messages).
    template_cache_seconds: float = 2.0

    @property
    def clinic_tz(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_tz_name)

    def clinic_today(self) -> date:
        """Today on the clinic's wall clock (not the server's, which runs in UTC)."""
        return clock.now().astimezone(self.clinic_tz).date()

    @property
    def gestaods_prefix(self) -> str:
        """Path prefix of the GestãoDS environment: ``/api/`` (prod) or ``/api/dev-`` (dev)."""
        return "/api/dev-" if self.gestaods_env == "dev" else "/api/"

    @property
    def uses_sandbox_gestaods(self) -> bool:
        return not self.production and not _env("GESTAODS_TOKEN")

    @property
    def uses_sandbox_zapi(self) -> bool:
        return not self.production and not _env("ZAPI_INSTANCE_ID")

    @property
    def uses_sandbox_meta(self) -> bool:
        return not self.production and not _env("META_PHONE_NUMBER_ID")

    @property
    def zapi_enabled(self) -> bool:
        """Whether the Z-API channel is mounted: always in the sandbox, else when configured."""
        return all((self.zapi_instance_id, self.zapi_instance_token, self.zapi_client_token))

    @property
    def meta_enabled(self) -> bool:
        """Whether the Meta channel is mounted: always in the sandbox, else when configured."""
        secrets = (self.meta_access_token, self.meta_app_secret, self.meta_verify_token)
        return bool(self.meta_phone_number_id) and all(secrets)

    @property
    def zapi_instance_url(self) -> str:
        """Base of every Z-API call for this instance (``…/instances/{id}/token/{token}``)."""
        return (
            f"{self.zapi_base_url.rstrip('/')}/instances/{self.zapi_instance_id}"
            f"/token/{self.zapi_instance_token}"
        )


def read_settings() -> Settings:
    """Read the environment now (uncached; tests that change the environment use this).

    Outside production, what is not configured falls back to the sandbox fakes and their
    credentials; in production nothing falls back (:mod:`clinicbot.production` refuses to
    start when something is missing).
    """
    production = is_production()
    sandbox_gestaods = not production and not _env("GESTAODS_TOKEN")
    sandbox_zapi = not production and not _env("ZAPI_INSTANCE_ID")
    sandbox_meta = not production and not _env("META_PHONE_NUMBER_ID")
    # The fake Graph API lives in the sandbox server, next to the fake Z-API.
    sandbox_url = _env("ZAPI_BASE_URL", SANDBOX_BASE_URL) if sandbox_zapi else SANDBOX_BASE_URL
    meta_sandbox_url = sandbox_url if sandbox_meta else ""
    return Settings(
        database_url=_env("DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=_env("REDIS_URL"),
        redis_lock_prefix=_env("REDIS_LOCK_PREFIX", "clinicbot"),
        gestaods_base_url=_env(
            "GESTAODS_BASE_URL",
            SANDBOX_BASE_URL if sandbox_gestaods else "https://apidev.gestaods.com.br",
        ),
        gestaods_token=_env("GESTAODS_TOKEN", SANDBOX_GESTAODS_TOKEN if sandbox_gestaods else ""),
        gestaods_env=_env("GESTAODS_ENV", "prod"),
        zapi_base_url=_env(
            "ZAPI_BASE_URL", SANDBOX_BASE_URL if sandbox_zapi else "https://api.z-api.io"
        ),
        zapi_instance_id=_env("ZAPI_INSTANCE_ID", SANDBOX_ZAPI_INSTANCE_ID if sandbox_zapi else ""),
        zapi_instance_token=_env(
            "ZAPI_INSTANCE_TOKEN", SANDBOX_ZAPI_INSTANCE_TOKEN if sandbox_zapi else ""
        ),
        zapi_client_token=_env(
            "ZAPI_CLIENT_TOKEN", SANDBOX_ZAPI_CLIENT_TOKEN if sandbox_zapi else ""
        ),
        clinic_tz_name=_env("CLINIC_TZ", "America/Sao_Paulo"),
        action_server_url=_env("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook"),
        clinic_service_port=int(_env("CLINIC_SERVICE_PORT", "8000")),
        rasa_port=int(_env("RASA_PORT", "5005")),
        rasa_api_token=_env("RASA_API_TOKEN"),
        staff_token=_env("STAFF_TOKEN", SANDBOX_STAFF_TOKEN if sandbox_zapi else ""),
        database_connect_timeout_seconds=float(_env("DATABASE_CONNECT_TIMEOUT_SECONDS", "5")),
        database_statement_timeout_seconds=float(_env("DATABASE_STATEMENT_TIMEOUT_SECONDS", "30")),
        rasa_api_timeout_seconds=float(_env("RASA_API_TIMEOUT_SECONDS", "10")),
        reminder_hours_before=tuple(
            float(hours) for hours in _env("REMINDER_HOURS_BEFORE", "24,2").split(",") if hours
        ),
        quiet_hours_start=time.fromisoformat(_env("QUIET_HOURS_START", "21:00")),
        quiet_hours_end=time.fromisoformat(_env("QUIET_HOURS_END", "08:00")),
        waitlist_offer_minutes=int(_env("WAITLIST_OFFER_MINUTES", "30")),
        booking_min_lead_minutes=int(_env("BOOKING_MIN_LEAD_MINUTES", "30")),
        scheduler_enabled=_env("SCHEDULER_ENABLED", "true").lower() in ("1", "true", "yes"),
        scheduler_poll_seconds=int(_env("SCHEDULER_POLL_SECONDS", "30")),
        availability_poll_minutes=int(_env("AVAILABILITY_POLL_MINUTES", "15")),
        gestaods_timeout_seconds=float(_env("GESTAODS_TIMEOUT_SECONDS", "10")),
        booking_check_interval_seconds=float(_env("BOOKING_CHECK_INTERVAL_SECONDS", "30")),
        booking_check_window_seconds=float(_env("BOOKING_CHECK_WINDOW_SECONDS", "300")),
        message_retention_months=int(_env("MESSAGE_RETENTION_MONTHS", "12")),
        zapi_webhook_secret=_env("ZAPI_WEBHOOK_SECRET"),
        zapi_delay_typing=int(_env("ZAPI_DELAY_TYPING", "0")),
        outbox_retry_hours=float(_env("OUTBOX_RETRY_HOURS", "24")),
        outbox_retry_max_seconds=float(_env("OUTBOX_RETRY_MAX_SECONDS", "600")),
        turn_retry_attempts=int(_env("TURN_RETRY_ATTEMPTS", "6")),
        turn_retry_initial_seconds=float(_env("TURN_RETRY_INITIAL_SECONDS", "5")),
        turn_retry_max_seconds=float(_env("TURN_RETRY_MAX_SECONDS", "120")),
        meta_graph_url=_env("META_GRAPH_URL", meta_sandbox_url or "https://graph.facebook.com"),
        meta_api_version=_env("META_API_VERSION", "v21.0"),
        meta_phone_number_id=_env(
            "META_PHONE_NUMBER_ID", SANDBOX_META_PHONE_NUMBER_ID if sandbox_meta else ""
        ),
        meta_access_token=_env(
            "META_ACCESS_TOKEN", SANDBOX_META_ACCESS_TOKEN if sandbox_meta else ""
        ),
        meta_app_secret=_env("META_APP_SECRET", SANDBOX_META_APP_SECRET if sandbox_meta else ""),
        meta_verify_token=_env(
            "META_VERIFY_TOKEN", SANDBOX_META_VERIFY_TOKEN if sandbox_meta else ""
        ),
        meta_template_name=_env("META_TEMPLATE_NAME"),
        meta_template_language=_env("META_TEMPLATE_LANGUAGE", "pt_BR"),
        rate_limit_burst=int(_env("RATE_LIMIT_BURST", "5")),
        rate_limit_per_minute=float(_env("RATE_LIMIT_PER_MINUTE", "12")),
        max_queued_turns=int(_env("MAX_QUEUED_TURNS", "10")),
        webhook_max_bytes=int(_env("WEBHOOK_MAX_BYTES", "65536")),
        production=production,
        action_server_token=_env("ACTION_SERVER_TOKEN"),
        rasa_host=_env("RASA_HOST", "127.0.0.1"),
        action_server_host=_env("ACTION_SERVER_HOST", "127.0.0.1"),
        action_server_workers=int(_env("ACTION_SERVER_WORKERS", "1")),
        clinic_service_host=_env("CLINIC_SERVICE_HOST", "127.0.0.1"),
        backup_schedule=_env("BACKUP_SCHEDULE", "02:00"),
        backup_dir=_env("BACKUP_DIR", str(VAR_DIR / "backups")),
        backup_keep_daily=int(_env("BACKUP_KEEP_DAILY", "7")),
        backup_keep_weekly=int(_env("BACKUP_KEEP_WEEKLY", "4")),
        backup_keep_monthly=int(_env("BACKUP_KEEP_MONTHLY", "6")),
        backup_timeout_seconds=float(_env("BACKUP_TIMEOUT_SECONDS", "3600")),
        backup_s3_bucket=_env("BACKUP_S3_BUCKET"),
        backup_s3_prefix=_env("BACKUP_S3_PREFIX", "clinicbot/"),
        backup_s3_endpoint_url=_env("BACKUP_S3_ENDPOINT_URL"),
        backup_s3_region=_env("BACKUP_S3_REGION", "us-east-1"),
        backup_s3_access_key_id=_env("BACKUP_S3_ACCESS_KEY_ID"),
        backup_s3_secret_access_key=_env("BACKUP_S3_SECRET_ACCESS_KEY"),
        alerts_enabled=_env("ALERTS_ENABLED", "true").lower() in ("1", "true", "yes"),
        alert_check_seconds=int(_env("ALERT_CHECK_SECONDS", "60")),
        alert_whatsapp_phone=_env("ALERT_WHATSAPP_PHONE"),
        alert_whatsapp_channel=_env("ALERT_WHATSAPP_CHANNEL", "zapi"),
        alert_email_to=tuple(
            address.strip() for address in _env("ALERT_EMAIL_TO").split(",") if address.strip()
        ),
        alert_email_from=_env("ALERT_EMAIL_FROM"),
        smtp_host=_env("SMTP_HOST"),
        smtp_port=int(_env("SMTP_PORT", "587")),
        smtp_security=_env("SMTP_SECURITY", "starttls").lower(),
        smtp_user=_env("SMTP_USER"),
        smtp_password=_env("SMTP_PASSWORD"),
        smtp_timeout_seconds=float(_env("SMTP_TIMEOUT_SECONDS", "10")),
        alert_webhook_url=_env("ALERT_WEBHOOK_URL"),
        alert_webhook_secret=_env("ALERT_WEBHOOK_SECRET"),
        alert_webhook_timeout_seconds=float(_env("ALERT_WEBHOOK_TIMEOUT_SECONDS", "10")),
        alert_gestaods_window_minutes=int(_env("ALERT_GESTAODS_WINDOW_MINUTES", "10")),
        alert_gestaods_error_rate=float(_env("ALERT_GESTAODS_ERROR_RATE", "0.5")),
        alert_gestaods_min_calls=int(_env("ALERT_GESTAODS_MIN_CALLS", "5")),
        alert_dead_letter_hours=float(_env("ALERT_DEAD_LETTER_HOURS", "24")),
        alert_silence_business_hours=float(_env("ALERT_SILENCE_BUSINESS_HOURS", "4")),
        business_days=_weekdays(_env("BUSINESS_DAYS", "mon,tue,wed,thu,fri")),
        business_hours_start=time.fromisoformat(_env("BUSINESS_HOURS_START", "08:00")),
        business_hours_end=time.fromisoformat(_env("BUSINESS_HOURS_END", "18:00")),
        backup_max_age_hours=float(_env("BACKUP_MAX_AGE_HOURS", "26")),
        api_rate_limit_per_minute=int(_env("API_RATE_LIMIT_PER_MINUTE", "120")),
        webhooks_enabled=_env("WEBHOOKS_ENABLED", "true").lower() in ("1", "true", "yes"),
        webhook_retry_hours=float(_env("WEBHOOK_RETRY_HOURS", "72")),
        webhook_retry_max_seconds=float(_env("WEBHOOK_RETRY_MAX_SECONDS", "600")),
        log_level=_env("LOG_LEVEL", "INFO").upper(),
        log_format=_env("LOG_FORMAT", "text").lower(),
        monitoring_enabled=_env("MONITORING_ENABLED", "true").lower() in ("1", "true", "yes"),
        api_log_retention_days=int(_env("API_LOG_RETENTION_DAYS", "30")),
        health_cache_seconds=float(_env("HEALTH_CACHE_SECONDS", "5")),
        clinic_secrets_keys=_env("CLINIC_SECRETS_KEYS"),
        feedback_enabled=_env("FEEDBACK_ENABLED", "true").lower() in ("1", "true", "yes"),
        feedback_delay_minutes=int(_env("FEEDBACK_DELAY_MINUTES", "30")),
        feedback_every_days=int(_env("FEEDBACK_EVERY_DAYS", "30")),
        feedback_alert_at_most=int(_env("FEEDBACK_ALERT_AT_MOST", "2")),
        template_cache_seconds=float(_env("TEMPLATE_CACHE_SECONDS", "2")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return read_settings()
