"""Run background work in arrival order per key (one patient's messages never overtake).

In the path of a message: the turn runner (:mod:`clinicbot.whatsapp.turns`) submits each stored
message's turn here under the patient's phone, so a patient's turns run one after another while
different patients are served concurrently. A key holds at most ``max_per_key`` jobs (running
or waiting), so one flooding phone cannot pile up turns in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class SerialDispatcher:
    """Schedules coroutines so that those sharing a key run one after another.

    Different keys run concurrently. Failures are logged and do not block the key's next job.
    """

    def __init__(self, max_per_key: int | None = None) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._queued: Counter[str] = Counter()
        self._max_per_key = max_per_key

    def is_full(self, key: str) -> bool:
        """Whether ``key`` has ``max_per_key`` jobs submitted and not finished."""
        return self._max_per_key is not None and self._queued[key] >= self._max_per_key

    def submit(self, key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Task[None] | None:
        """Run ``job`` after the key's earlier jobs; None (not scheduled) when the key is full."""
        if self.is_full(key):
            return None
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
        self._queued[key] += 1
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        self._queued[key] -= 1
        if self._queued[key] <= 0:
            del self._queued[key]
        if self._tails.get(key) is task:
            del self._tails[key]
