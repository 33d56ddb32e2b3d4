"""Run background work in arrival order per key (one patient's messages never overtake).

In the path of a message: the turn runner (:mod:`clinicbot.whatsapp.turns`) submits each stored
message's turn here under the patient's phone, so a patient's turns run one after another while
different patients are served concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class SerialDispatcher:
    """Schedules coroutines so that those sharing a key run one after another.

    Different keys run concurrently. Failures are logged and do not block the key's next job.
    """

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}

    def submit(self, key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        previous = self._tails.get(key)

        async def run_after_previous() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await job()
            except Exception:
                logger.exception("background job failed")

        task = asyncio.get_running_loop().create_task(run_after_previous())
        self._tails[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]
