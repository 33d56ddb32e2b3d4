"""Async client for the Z-API endpoints the assistant uses (send text, option list, button list).

In the path of a message: the last stop on the way out, called by
:class:`~clinicbot.whatsapp.zapi.sender.ZapiSender`; the clinic service's health check uses it
too (``/status``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

import aiohttp

from clinicbot import clock
from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.pii import mask_phone, mask_text
from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.zapi.errors import ZapiError
from clinicbot.whatsapp.zapi.messages import ZapiButton, ZapiOption

logger = logging.getLogger(__name__)

_DELAY_RANGE = range(1, 16)  # Z-API accepts delayTyping / delayMessage of 1–15 s


class ZapiClient:
    """One Z-API instance. Every call raises :class:`ZapiError` unless Z-API answers 200.

    Pass ``session`` to share an ``aiohttp.ClientSession``; otherwise the client opens its own on
    first use (inside the running loop) and :meth:`close` closes it. ``on_call`` receives a
    record of every call (instance id and tokens masked), e.g. for ``api_call_logs``.
    """

    def __init__(
        self,
        instance_url: str,
        client_token: str,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        on_call: Callable[[ApiCallRecord], None] | None = None,
    ) -> None:
        self._instance_url = instance_url.rstrip("/")
        self._client_token = client_token
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._on_call = on_call

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        on_call: Callable[[ApiCallRecord], None] | None = None,
    ) -> ZapiClient:
        settings = settings or get_settings()
        return cls(settings.zapi_instance_url, settings.zapi_client_token, on_call=on_call)

    async def __aenter__(self) -> ZapiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send_text(self, phone: str, message: str, delay_typing: int | None = None) -> str:
        """Send a text message; returns Z-API's ``messageId``."""
        body: dict[str, Any] = {"phone": phone, "message": message}
        if delay_typing is not None:
            if delay_typing not in _DELAY_RANGE:
                raise ValueError(f"delay_typing must be 1–15 seconds, got {delay_typing}")
            body["delayTyping"] = delay_typing
        return await self._send("send-text", body)

    async def send_option_list(
        self,
        phone: str,
        message: str,
        title: str,
        button_label: str,
        options: list[ZapiOption],
    ) -> str:
        """Send a list menu (WhatsApp shows ``button_label``; tapping it opens the options)."""
        body = {
            "phone": phone,
            "message": message,
            "optionList": {
                "title": title,
                "buttonLabel": button_label,
                "options": [option.to_json() for option in options],
            },
        }
        return await self._send("send-option-list", body)

    async def send_button_list(self, phone: str, message: str, buttons: list[ZapiButton]) -> str:
        """Send reply buttons under a message."""
        body = {
            "phone": phone,
            "message": message,
            "buttonList": {"buttons": [button.to_json() for button in buttons]},
        }
        return await self._send("send-button-list", body)

    async def status(self) -> dict[str, Any]:
        """The instance's ``/status``: ``{"connected", "error", "smartphoneConnected"}``."""
        return await self._request("GET", "status")

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, method: str, body: dict[str, Any]) -> str:
        masked = mask_phone(body["phone"])
        try:
            answer = await self._request("POST", method, body)
        except ZapiError as error:
            logger.warning("zapi %s to %s failed: %s", method, masked, error)
            raise
        message_id = answer.get("messageId")
        if not message_id:
            raise ZapiError(
                f"Z-API {method} answered without messageId", status=200, body=str(answer)
            )
        logger.info("zapi %s to %s ok messageId=%s", method, masked, message_id)
        return str(message_id)

    async def _request(
        self, http_method: str, method: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        started = time.monotonic()
        try:
            answer = await self._request_once(http_method, method, body)
        except ZapiError as error:
            self._report(http_method, method, error.status, started, str(error))
            raise
        self._report(http_method, method, 200, started, None)
        return answer

    def _report(
        self, http_method: str, method: str, status: int | None, started: float, error: str | None
    ) -> None:
        if self._on_call is None:
            return
        latency_ms = (time.monotonic() - started) * 1000
        record = ApiCallRecord(
            operation=method,
            method=http_method,
            path=f"/instances/***/token/***/{method}",
            status=status,
            latency_ms=round(latency_ms, 1),
            started_at=clock.now() - timedelta(milliseconds=latency_ms),
            error=mask_text(error)[:200] if error else None,
            service="zapi",
        )
        try:
            self._on_call(record)
        except Exception:  # a failing sink must not turn a sent message into a failure
            logger.exception("zapi on_call sink failed")

    async def _request_once(
        self, http_method: str, method: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Client-Token": self._client_token, "Content-Type": "application/json"}
        url = f"{self._instance_url}/{method}"
        try:
            async with self._get_session().request(
                http_method, url, json=body, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                if self._client_token:  # a 403 echoes the token back: keep it out of logs
                    text = text.replace(self._client_token, "***")
        except asyncio.TimeoutError as error:
            raise ZapiError(f"Z-API {method} timed out") from error
        except aiohttp.ClientError as error:
            raise ZapiError(f"Z-API {method} unreachable: {error}") from error
        if response.status != 200:
            raise ZapiError(f"Z-API {method} failed", status=response.status, body=text)
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ZapiError(f"Z-API {method} answered no JSON object", status=200, body=text)
        return answer

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session
