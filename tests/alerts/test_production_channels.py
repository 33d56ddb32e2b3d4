"""Production refuses alert channels that would carry the clinic's operations in clear."""

from __future__ import annotations

from clinicbot.production import problems
from tests.test_production_mode import SAFE


def test_alert_channels_must_be_encrypted_off_this_machine() -> None:
    assert problems({**SAFE, "ALERT_WEBHOOK_URL": "https://ops.clinica.example/hook"}) == []
    assert problems({**SAFE, "ALERT_WEBHOOK_URL": "http://127.0.0.1:9000/hook"}) == []
    assert problems({**SAFE, "ALERT_WEBHOOK_URL": "http://ops.clinica.example/hook"}) == [
        "ALERT_WEBHOOK_URL must be https:// (or on this machine)"
    ]
    mail = {**SAFE, "SMTP_HOST": "smtp.clinica.example", "SMTP_USER": "alertas"}
    assert problems(mail) == []  # starttls by default
    assert problems({**mail, "SMTP_SECURITY": "none"}) == [
        "SMTP_SECURITY=none would send SMTP_PASSWORD in clear: use starttls or ssl"
    ]
    # A local relay without a login may go unencrypted.
    assert problems({**SAFE, "SMTP_HOST": "localhost", "SMTP_SECURITY": "none"}) == []
