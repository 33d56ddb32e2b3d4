"""Run the WhatsApp core's synchronous SQLAlchemy work off the event loop, on one worker thread.

Every database step on a message's way (storing and claiming it, enqueueing answers, claiming
and recording deliveries, logging intents) goes through :func:`run_db`. One thread per process
keeps the loop responsive (webhooks keep being acknowledged while a write waits for SQLite's
lock) and makes this process a single writer: no two of its WhatsApp writes race each other.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinicbot-whatsapp-db")


async def run_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` on the WhatsApp database thread."""
    call = functools.partial(function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, call)
