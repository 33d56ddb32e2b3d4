"""Async client for the Cloud API messages endpoint: text, interactive list, template.

In the path of a message: the last stop on the way out, called by
:class:`~clinicbot.whatsapp.meta.sender.MetaSender`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp

from clinicbot import clock
from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.pii import mask_phone, mask_text
from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.meta.errors import MetaError

logger = logging.getLogger(__name__)


class MetaClient:
    """``POST {graph_url}/{version}/{phone_number_id}/messages`` with a bearer token.

    ``on_call`` receives a record of every call (phone number id masked).
    """

    def __init__(
        self,
        graph_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
        on_call: Callable[[ApiCallRecord], None] | None = None,
    ) -> None:
        self._url = f"{graph_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._logged_path = f"/{api_version}/***/messages"
        self._access_token = access_token
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._on_call = on_call

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        on_call: Callable[[ApiCallRecord], None] | None = None,
    ) -> MetaClient:
        settings = settings or get_settings()
        return cls(
            settings.meta_graph_url,
            settings.meta_api_version,
            settings.meta_phone_number_id,
            settings.meta_access_token,
            on_call=on_call,
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
        started = time.monotonic()
        try:
            message_id = await self._send_once(to, content)
        except MetaError as error:
            self._report(error.status, started, str(error))
            raise
        self._report(200, started, None)
        return message_id

    def _report(self, status: int | None, started: float, error: str | None) -> None:
        if self._on_call is None:
            return
        latency_ms = (time.monotonic() - started) * 1000
        record = ApiCallRecord(
            operation="messages",
            method="POST",
            path=self._logged_path,
            status=status,
            latency_ms=round(latency_ms, 1),
            started_at=clock.now() - timedelta(milliseconds=latency_ms),
            error=mask_text(error)[:200] if error else None,
            service="meta",
        )
        try:
            self._on_call(record)
        except Exception:  # a failing sink must not turn a sent message into a failure
            logger.exception("meta on_call sink failed")

    async def _send_once(self, to: str, content: dict[str, Any]) -> str:
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
