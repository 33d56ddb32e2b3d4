"""The clinics' secrets (API tokens) encrypted at rest with Fernet.

``CLINIC_SECRETS_KEYS`` holds one or more Fernet keys, comma-separated, newest first: the
first encrypts, any of them decrypts (``MultiFernet``). To rotate: put a new key first
(``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``),
restart, run ``python -m clinicbot.cli clinics rotate-secrets`` (re-encrypts every secret with
the new key), then drop the old key. Outside production an unset variable means the
repository's sandbox key (which production refuses).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from clinicbot.settings import Settings

# Public, in the repository: only for the sandbox and tests; production refuses it.
SANDBOX_SECRETS_KEY = "c2FuZGJveC1jbGluaWMtc2VjcmV0cy1rZXktMDAwMDA="


class SecretsKeyMissing(RuntimeError):
    """Production without ``CLINIC_SECRETS_KEYS``: clinics' secrets cannot be read or stored."""


def keys_of(settings: Settings) -> list[str]:
    """The configured keys, newest first (the sandbox key outside production when unset)."""
    keys = [key.strip() for key in settings.clinic_secrets_keys.split(",") if key.strip()]
    if keys:
        return keys
    if settings.production:
        raise SecretsKeyMissing("CLINIC_SECRETS_KEYS is not set")
    return [SANDBOX_SECRETS_KEY]


class SecretBox:
    """Encrypts and decrypts the secret columns of ``clinics``."""

    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(keys_of(settings))

    def seal(self, secret: str | None) -> str | None:
        """The stored form of ``secret`` (None and "" stay None: not configured)."""
        if not secret:
            return None
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str | None) -> str:
        """The secret; "" when none is stored. Raises ``InvalidToken`` for a key not configured."""
        if not sealed:
            return ""
        return self._fernet.decrypt(sealed.encode()).decode()

    def rotate(self, sealed: str | None) -> str | None:
        """``sealed`` re-encrypted with the newest key."""
        if not sealed:
            return None
        return self._fernet.rotate(sealed.encode()).decode()


__all__ = ["InvalidToken", "SecretBox", "SecretsKeyMissing", "keys_of"]
