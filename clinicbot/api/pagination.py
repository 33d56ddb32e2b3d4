"""Cursor pagination: results in id order, the cursor an opaque token of the last id seen.

A page is ``{"data": [...], "next_cursor": "..." | null}``. Ids only grow, so rows added while a
client pages are found at the end, and none is returned twice or skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from clinicbot.api.problems import bad_request
from clinicbot.db.engine import session_scope

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_args(args: Any) -> tuple[int | None, int]:
    """``(after_id, limit)`` from the ``cursor`` and ``limit`` query parameters."""
    raw_limit = args.get("limit")
    try:
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            f"limit deve ser um inteiro de 1 a {MAX_LIMIT}.",
        )
    cursor = args.get("cursor")
    return (None if cursor is None else decode_cursor(cursor)), limit


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if isinstance(after, int) and not isinstance(after, bool):
            return after
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise bad_request("The cursor is not valid.", "O cursor não é válido.")


def paged(query: Select, id_column: Any, after: int | None, limit: int) -> Select:
    """``query`` restricted to one page (one row more than ``limit``, to know if more follow)."""
    if after is not None:
        query = query.where(id_column > after)
    return query.order_by(id_column).limit(limit + 1)


def page(rows: Sequence[Any], limit: int, item: Any, row_id: Any) -> dict[str, Any]:
    """The page body from the rows of :func:`paged`."""
    shown = list(rows[:limit])
    more = len(rows) > limit
    return {
        "data": [item(row) for row in shown],
        "next_cursor": encode_cursor(row_id(shown[-1])) if more and shown else None,
    }


def entity_page(
    engine: Engine, query: Select, id_column: Any, after: int | None, limit: int, item: Any
) -> dict[str, Any]:
    """One page of the entities ``query`` selects, in ``id_column`` order, as the page body."""
    with session_scope(engine) as session:
        rows = session.execute(paged(query, id_column, after, limit)).scalars().all()
        return page(rows, limit, item, lambda row: row.id)
