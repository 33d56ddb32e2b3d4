"""Subscription URLs: https only in production (the payloads carry patient data)."""

from __future__ import annotations

import pytest

from clinicbot.integrations.subscriptions import InvalidSubscription, check_url


def test_production_refuses_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_url("http://127.0.0.1:9000/hooks")  # sandbox: a local receiver is fine
    monkeypatch.setenv("APP_ENV", "production")
    assert check_url("https://crm.example.org/hooks")
    with pytest.raises(InvalidSubscription, match="https"):
        check_url("http://crm.example.org/hooks")
    for bad in ("https://", "crm.example.org", 42):
        with pytest.raises(InvalidSubscription):
            check_url(bad)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.5",
        "192.168.1.20",
        "169.254.169.254",
        "[::1]",
        "localhost",
        "db.localhost",
    ],
)
def test_production_refuses_hosts_inside_the_network(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    assert check_url(f"https://{host}/hooks")  # sandbox: a local receiver is fine
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(InvalidSubscription, match="public host"):
        check_url(f"https://{host}/hooks")
    assert check_url("https://93.184.216.34/hooks")
