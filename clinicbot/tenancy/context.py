"""The clinic the current request, action or job acts for (a context variable).

Set with :func:`acting_for` where the clinic becomes known (a webhook's instance, an action's
sender id, a staff token, a scheduler pass over one clinic); every
:func:`~clinicbot.db.engine.session_scope` opened inside then acts for that clinic only
(:mod:`clinicbot.tenancy.scope`). It follows the code into ``asyncio.to_thread`` and tasks,
which copy the context; not into a plain executor (``run_db`` callers pass the clinic on).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[int | None] = ContextVar("clinic_id", default=None)


def current_clinic_id() -> int | None:
    """The clinic being acted for, or None (work that spans clinics)."""
    return _CURRENT.get()


@contextmanager
def acting_for(clinic_id: int | None) -> Iterator[None]:
    """Act for ``clinic_id`` inside the block (None: for no clinic in particular)."""
    token = _CURRENT.set(clinic_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)
