"""Clinics' secrets at rest: sealed with the newest key, readable with any configured one."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet, InvalidToken

from clinicbot.production import problems
from clinicbot.settings import Settings
from clinicbot.tenancy.secrets import SANDBOX_SECRETS_KEY, SecretBox, SecretsKeyMissing, keys_of


def test_a_sealed_secret_is_not_the_secret_and_opens_back() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    sealed = box.seal("zapi-token-123")
    assert sealed is not None and "zapi-token-123" not in sealed
    assert box.open(sealed) == "zapi-token-123"
    assert box.seal("") is None and box.open(None) == ""


def test_rotation_new_key_first_reads_old_secrets_and_rewrites_them() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = SecretBox([old]).seal("s3cret")
    both = SecretBox([new, old])
    assert both.open(sealed_with_old) == "s3cret"
    rotated = both.rotate(sealed_with_old)
    assert SecretBox([new]).open(rotated) == "s3cret"
    with pytest.raises(InvalidToken):
        SecretBox([new]).open(sealed_with_old)  # dropping the old key too early fails loudly


def test_keys_come_from_the_setting_newest_first(settings: Settings) -> None:
    two = dataclasses.replace(settings, clinic_secrets_keys=" a , b ")
    assert keys_of(two) == ["a", "b"]
    unset = dataclasses.replace(settings, clinic_secrets_keys="")
    assert keys_of(unset) == [SANDBOX_SECRETS_KEY]
    with pytest.raises(SecretsKeyMissing):
        keys_of(dataclasses.replace(unset, production=True))


def test_production_refuses_the_sandbox_key() -> None:
    unsafe = problems(
        {"CLINIC_SECRETS_KEYS": f"{Fernet.generate_key().decode()},{SANDBOX_SECRETS_KEY}"}
    )
    assert "CLINIC_SECRETS_KEYS holds the repository's public sandbox key" in unsafe
    safe = problems({"CLINIC_SECRETS_KEYS": Fernet.generate_key().decode()})
    assert not [problem for problem in safe if "CLINIC_SECRETS_KEYS" in problem]
