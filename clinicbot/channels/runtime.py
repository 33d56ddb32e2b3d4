"""What the channel connectors of one rasa process share: the clients and the outbox worker.

Both connectors (Z-API and Meta) call :func:`get_runtime` and :meth:`ChannelRuntime.start` when
the server starts; the worker then delivers every channel's outbox rows, including those other
processes enqueued (reminders and waiting-list offers from the clinic service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import lru_cache

from sqlalchemy.engine import Engine

from clinicbot.channels.meta_sender import MetaSender
from clinicbot.channels.outbox import OutboxWorker
from clinicbot.channels.zapi_sender import ZapiSender
from clinicbot.db.engine import get_engine
from clinicbot.meta import MetaClient
from clinicbot.settings import Settings, get_settings
from clinicbot.zapi import ZapiClient

logger = logging.getLogger(__name__)


class ChannelRuntime:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or get_engine()
        self.zapi = ZapiClient.from_settings(settings)
        self.meta = MetaClient.from_settings(settings)
        self.worker = OutboxWorker(
            {
                "zapi": ZapiSender(self.zapi, settings.zapi_delay_typing),
                "meta": MetaSender(
                    self.meta,
                    settings.meta_template_name,
                    settings.meta_template_language,
                    self.engine,
                ),
            },
            engine=self.engine,
            max_attempts=settings.outbox_max_attempts,
            retry_max_seconds=settings.outbox_retry_max_seconds,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the outbox worker in the running loop (once per process)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.worker.run_forever())
            logger.info("outbox worker started")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.zapi.close()
        await self.meta.close()


@lru_cache(maxsize=1)
def get_runtime() -> ChannelRuntime:
    return ChannelRuntime(get_settings())
