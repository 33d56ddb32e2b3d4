"""One record and one log line per HTTP attempt, with the token and personal data masked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode

from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.pii import mask_cpf

logger = logging.getLogger("clinicbot.gestaods")

TOKEN_MASK = "***"


def mask_path(path: str, params: dict[str, str] | None, token: str, cpf: str | None = None) -> str:
    """Path and query as logged: the agenda token → ``***``, a CPF → ``***.***.*47-05``.

    Whole path segments and query values are compared, never substrings.
    """

    def mask(value: str) -> str:
        if value == token:
            return TOKEN_MASK
        return mask_cpf(value) if cpf and value == cpf else value

    masked = "/".join(mask(segment) for segment in path.split("/"))
    if params:
        masked_params = {key: mask(value) for key, value in params.items()}
        masked += "?" + urlencode(masked_params, safe="/*")
    return masked


def report(record: ApiCallRecord, on_call: Callable[[ApiCallRecord], None] | None) -> None:
    """Log the attempt and hand it to ``on_call``; a failing sink never breaks the API call."""
    level = logging.WARNING if record.error else logging.INFO
    logger.log(
        level,
        "gestaods %s %s %s status=%s latency_ms=%.0f attempt=%d cpf=%s%s",
        record.operation,
        record.method,
        record.path,
        record.status,
        record.latency_ms,
        record.attempt,
        record.cpf_masked or "-",
        f" error={record.error}" if record.error else "",
    )
    if on_call is None:
        return
    try:
        on_call(record)
    except Exception:  # the sink (a database) must not turn a good call into a failure
        logger.exception("gestaods on_call sink failed")
