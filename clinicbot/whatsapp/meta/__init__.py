"""Meta's WhatsApp Cloud API: async client, errors and webhook helpers (signature, payloads)."""

from clinicbot.meta.client import MetaClient
from clinicbot.meta.errors import MetaError

__all__ = ["MetaClient", "MetaError"]
