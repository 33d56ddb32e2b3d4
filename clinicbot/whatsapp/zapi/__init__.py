"""Z-API (z-api.io) WhatsApp gateway: async client, message models and webhook payload builders."""

from clinicbot.zapi.client import ZapiClient
from clinicbot.zapi.errors import ZapiError
from clinicbot.zapi.messages import ZapiButton, ZapiOption

__all__ = ["ZapiButton", "ZapiClient", "ZapiError", "ZapiOption"]
