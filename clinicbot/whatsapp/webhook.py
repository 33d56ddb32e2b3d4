"""What every WhatsApp webhook request goes through before a provider's parsing reads it.

In the path of a message: the provider connectors (``zapi/connector.py``, ``meta/connector.py``)
read the body with :func:`read_body` (at most ``WEBHOOK_MAX_BYTES``, else 413, whether the
body has a ``Content-Length`` or comes chunked), decode it with :func:`read_json` (400 for
anything the database could not store: NUL characters, lone surrogates) and compare secrets
with :func:`same_secret` (a header with any bytes at all is a wrong secret, never an error).
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from sanic.exceptions import PayloadTooLarge
from sanic.request import Request

from clinicbot.whatsapp.events import MalformedPayload

# PostgreSQL text cannot hold NUL, and a lone surrogate has no UTF-8 encoding at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Far longer than any real token or signature; longer ones are wrong without comparing.
MAX_SECRET_CHARS = 512


async def read_body(request: Request, max_bytes: int) -> bytes | None:
    """The request body, or None when it is longer than ``max_bytes``.

    The route must be a streaming one (``stream=True``): Sanic then has not read the body
    before, and stops reading at ``max_bytes``. The rest of a body too long is discarded unread
    (up to Sanic's ``REQUEST_MAX_SIZE``, then the connection is closed), so that the sender
    reads the 413 instead of a reset connection.
    """
    stream = request.stream
    if stream is None:  # a body that came whole (not Sanic's HTTP server)
        return request.body if len(request.body) <= max_bytes else None
    stream.request_max_size = max_bytes
    try:
        return b"".join([chunk async for chunk in stream])
    except PayloadTooLarge:
        stream.request_max_size = float("inf")  # Sanic caps the discarding at its own limit
        return None


def read_json(body: bytes) -> Any:
    """The JSON document in ``body``; :class:`MalformedPayload` for anything else, including
    text the database cannot store and nesting deeper than the parser's recursion limit."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MalformedPayload(f"not JSON: {type(error).__name__}") from None
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and _UNSTORABLE.search(value):
            raise MalformedPayload("NUL character or lone surrogate in a string")
    return document


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time ``given == expected``; False for a missing, over-long or non-ASCII one.

    Sanic decodes headers with ``surrogateescape``, so a header may hold any str at all;
    :func:`hmac.compare_digest` refuses non-ASCII str (``TypeError``), hence bytes.
    """
    if not expected or given is None or len(given) > MAX_SECRET_CHARS:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
