"""Async client for the Cloud API messages endpoint: text, interactive list, template.

In the path of a message: the last stop on the way out, called by
:class:`~clinicbot.whatsapp.meta.sender.MetaSender`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from clinicbot.pii import mask_phone
from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.meta.errors import MetaError

logger = logging.getLogger(__name__)


class MetaClient:
    """``POST {graph_url}/{version}/{phone_number_id}/messages`` with a bearer token."""

    def __init__(
        self,
        graph_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
    ) -> None:
        self._url = f"{graph_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._access_token = access_token
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MetaClient:
        settings = settings or get_settings()
        return cls(
            settings.meta_graph_url,
            settings.meta_api_version,
            settings.meta_phone_number_id,
            settings.meta_access_token,
        )

    async def send_text(self, to: str, body: str) -> str:
        return await self._send(to, {"type": "text", "text": {"body": body}})

    async def send_list(
        self, to: str, body: str, button: str, rows: list[dict[str, str]], section: str = ""
    ) -> str:
        """An interactive list (up to 10 rows; titles up to 24 characters)."""
        interactive = {
            "type": "list",
            "body": {"text": body},
            "action": {"button": button, "sections": [{"title": section or button, "rows": rows}]},
        }
        return await self._send(to, {"type": "interactive", "interactive": interactive})

    async def send_template(self, to: str, name: str, language: str, parameters: list[str]) -> str:
        """An approved template, the only kind allowed outside the 24-hour window."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if parameters:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
            ]
        return await self._send(to, {"type": "template", "template": template})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, to: str, content: dict[str, Any]) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        body.update(content)
        headers = {"Authorization": f"Bearer {self._access_token}"}
        if self._session is None:
            self._session = aiohttp.ClientSession()
        kind = content["type"]
        try:
            async with self._session.post(
                self._url, json=body, headers=headers, timeout=self._timeout
            ) as response:
                status, text = response.status, await response.text()
        except asyncio.TimeoutError as error:
            raise MetaError(f"Graph API {kind} timed out") from error
        except aiohttp.ClientError as error:
            raise MetaError(f"Graph API {kind} unreachable: {error}") from error
        answer = _json(text)
        if status != 200:
            error_item = answer.get("error")
            error_body: dict[str, Any] = error_item if isinstance(error_item, dict) else {}
            code = error_body.get("code")
            raise MetaError(
                f"Graph API {kind} failed",
                status=status,
                body=text,
                code=code if isinstance(code, int) else None,
            )
        messages = answer.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise MetaError(
                f"Graph API {kind} answered without a message id", status=200, body=text
            )
        logger.info("meta %s to %s ok id=%s", kind, mask_phone(to), messages[0]["id"])
        return str(messages[0]["id"])


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
