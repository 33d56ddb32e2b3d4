"""Production mode refuses unsafe configuration: every problem listed in one message."""

from __future__ import annotations

import pytest

from clinicbot.production import UnsafeConfiguration, problems, require_safe_environment
from clinicbot.settings import (
    SANDBOX_META_APP_SECRET,
    SANDBOX_STAFF_TOKEN,
    SANDBOX_ZAPI_CLIENT_TOKEN,
)

ZAPI = {
    "ZAPI_INSTANCE_ID": "3C0FFEE0000000000000000000000001",
    "ZAPI_INSTANCE_TOKEN": "f6c1a9e2b7d84c0f9e1a2b3c",
    "ZAPI_CLIENT_TOKEN": "Fa91b2c3d4e5f60718293a4b5c6d7e8f9S",
}
SAFE = {
    "APP_ENV": "production",
    "GESTAODS_TOKEN": "a3f1c0de9b8e4f2aa1b2c3d4e5f60718",
    "STAFF_TOKEN": "c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4",
    **ZAPI,
}


def test_a_complete_configuration_is_safe() -> None:
    assert problems(SAFE) == []
    require_safe_environment(SAFE)


def test_nothing_configured_lists_every_missing_variable() -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        require_safe_environment({"APP_ENV": "production"})
    message = str(refused.value)
    assert "GESTAODS_TOKEN is not set" in message and "STAFF_TOKEN is not set" in message
    assert "no WhatsApp channel is configured" in message


def test_empty_variables_count_as_unset() -> None:
    found = problems({**SAFE, "STAFF_TOKEN": "  ", "ZAPI_CLIENT_TOKEN": ""})
    assert "STAFF_TOKEN is not set" in found
    assert any("Z-API channel is half configured: set ZAPI_CLIENT_TOKEN" in p for p in found)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STAFF_TOKEN", SANDBOX_STAFF_TOKEN),
        ("ZAPI_CLIENT_TOKEN", SANDBOX_ZAPI_CLIENT_TOKEN),
        ("ZAPI_WEBHOOK_SECRET", SANDBOX_STAFF_TOKEN),
    ],
)
def test_a_repository_value_given_explicitly_is_refused(name: str, value: str) -> None:
    assert problems({**SAFE, name: value}) == [f"{name} is the repository's public sandbox value"]


def test_a_half_configured_second_channel_is_refused() -> None:
    found = problems({**SAFE, "META_APP_SECRET": "x" * 32, "META_PHONE_NUMBER_ID": "1234"})
    assert found == [
        "the Meta channel is half configured: set META_ACCESS_TOKEN, META_VERIFY_TOKEN"
    ]
    assert problems({**SAFE, "META_APP_SECRET": SANDBOX_META_APP_SECRET})[-1].startswith(
        "META_APP_SECRET is the repository's"
    )


def test_the_sandbox_is_never_checked() -> None:
    require_safe_environment({"APP_ENV": "sandbox"})
    require_safe_environment({})
