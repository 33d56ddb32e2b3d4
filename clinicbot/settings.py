"""Every environment variable the project reads, in one place.

Processes (rasa server, action server, clinic service, sandbox) all build their configuration
with :func:`get_settings`; nothing else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

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


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """Configuration of one process, read from the environment."""

    database_url: str
    redis_url: str
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

    @property
    def clinic_tz(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_tz_name)

    @property
    def gestaods_prefix(self) -> str:
        """Path prefix of the GestãoDS environment: ``/api/`` (prod) or ``/api/dev-`` (dev)."""
        return "/api/dev-" if self.gestaods_env == "dev" else "/api/"

    @property
    def uses_sandbox_gestaods(self) -> bool:
        return not _env("GESTAODS_TOKEN")

    @property
    def uses_sandbox_zapi(self) -> bool:
        return not _env("ZAPI_INSTANCE_ID")

    @property
    def zapi_instance_url(self) -> str:
        """Base of every Z-API call for this instance (``…/instances/{id}/token/{token}``)."""
        return (
            f"{self.zapi_base_url.rstrip('/')}/instances/{self.zapi_instance_id}"
            f"/token/{self.zapi_instance_token}"
        )


def read_settings() -> Settings:
    """Read the environment now (uncached; tests that change the environment use this)."""
    sandbox_gestaods = not _env("GESTAODS_TOKEN")
    sandbox_zapi = not _env("ZAPI_INSTANCE_ID")
    return Settings(
        database_url=_env("DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=_env("REDIS_URL"),
        gestaods_base_url=_env(
            "GESTAODS_BASE_URL",
            SANDBOX_BASE_URL if sandbox_gestaods else "https://apidev.gestaods.com.br",
        ),
        gestaods_token=_env("GESTAODS_TOKEN", SANDBOX_GESTAODS_TOKEN),
        gestaods_env=_env("GESTAODS_ENV", "prod"),
        zapi_base_url=_env(
            "ZAPI_BASE_URL", SANDBOX_BASE_URL if sandbox_zapi else "https://api.z-api.io"
        ),
        zapi_instance_id=_env("ZAPI_INSTANCE_ID", SANDBOX_ZAPI_INSTANCE_ID),
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
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return read_settings()
