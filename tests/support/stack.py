"""The whole assistant as `make run` starts it, on free ports and its own database.

Used by the end-to-end tests and the benchmarks alike, so both measure what a clinic runs.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from clinicbot.stack import Ports, Stack

# Whatever the developer's shell or .env configures, the stack under test uses the sandbox.
SANDBOX_ONLY_ENV = {
    name: ""
    for name in (
        "APP_ENV",
        "GESTAODS_TOKEN",
        "ZAPI_INSTANCE_ID",
        "ZAPI_INSTANCE_TOKEN",
        "ZAPI_CLIENT_TOKEN",
        "ZAPI_WEBHOOK_SECRET",
        "META_PHONE_NUMBER_ID",
        "META_GRAPH_URL",
        "REDIS_URL",
        # Nothing of a test stack reaches real storage or real people.
        "BACKUP_S3_BUCKET",
        "ALERT_WHATSAPP_PHONE",
        "ALERT_EMAIL_TO",
        "SMTP_HOST",
        "ALERT_WEBHOOK_URL",
    )
}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_stack(workdir: Path, env: Mapping[str, str] | None = None) -> Stack:
    """A stack on the sandbox fakes with a SQLite database in ``workdir``, not yet started.

    Tests run at any hour, so there are no quiet hours; their patients write as fast as they
    are answered, so there is no rate limit (the production probes keep the default one); the
    clock can be moved (:meth:`Stack.set_clock`); the outbox and the CRM webhooks retry at least
    every second while WhatsApp or the receiver is down, so a test's outage ends in seconds, not
    in the production backoff's minutes.
    """
    return Stack(
        ports=Ports(
            rasa=free_port(), actions=free_port(), service=free_port(), sandbox=free_port()
        ),
        env={
            **SANDBOX_ONLY_ENV,
            "DATABASE_URL": f"sqlite:///{workdir / 'clinicbot.db'}",
            "BACKUP_DIR": str(workdir / "backups"),
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
            "OUTBOX_RETRY_MAX_SECONDS": "1",
            "WEBHOOK_RETRY_MAX_SECONDS": "1",
            "RATE_LIMIT_PER_MINUTE": "0",
            **(env or {}),
        },
        log_dir=workdir,
        movable_clock=True,
    )
