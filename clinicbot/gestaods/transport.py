"""HTTP for the GestãoDS client: timeouts, retries of reads, a circuit breaker, call records.

Only requests marked ``retry=True`` (reads) are retried, on 5xx/429, timeouts and connection
errors, with exponential backoff. Writes are sent once: the client decides what to do after a
failure (a booking is looked up, never re-sent).

The circuit breaker counts those transient failures (each attempt) and, once open, makes every
call fail fast with :class:`CircuitOpen` until ``reset_timeout`` has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pybreaker
import requests
import urllib3
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from clinicbot import clock
from clinicbot.gestaods.errors import CircuitOpen, GestaoDSUnavailable
from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.gestaods.parsing import effective_status, message_of
from clinicbot.gestaods.telemetry import mask_path, report
from clinicbot.pii import mask_cpf, mask_text


class _Transient(GestaoDSUnavailable):
    """A failure worth retrying (and counted by the breaker); the request may have been applied."""


@dataclass(frozen=True)
class _Call:
    """One logical request; ``logged_path`` has the token and CPF masked."""

    operation: str
    method: str
    path: str
    params: dict[str, str] | None
    json: dict[str, Any] | None
    cpf: str | None
    logged_path: str


@dataclass(frozen=True)
class ApiResponse:
    """A non-transient answer; ``status`` is the effective one (``parsing.effective_status``)."""

    status: int
    http_status: int
    body: Any


class Transport:
    """Sends one logical request as one or more recorded HTTP attempts."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        session: requests.Session | None,
        on_call: Callable[[ApiCallRecord], None] | None,
        retry_attempts: int,
        retry_wait: float,
        breaker: pybreaker.CircuitBreaker,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = session or requests.Session()
        self._on_call = on_call
        self._retry_attempts = retry_attempts
        self._retry_wait = retry_wait
        self._breaker = breaker

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        cpf: str | None = None,
        retry: bool = False,
    ) -> ApiResponse:
        """Raises :class:`GestaoDSUnavailable` (or :class:`CircuitOpen`) on transient failure."""
        call = _Call(
            operation,
            method,
            path,
            params,
            json,
            cpf,
            logged_path=mask_path(path, params, self._token, cpf),
        )
        retrying = Retrying(
            stop=stop_after_attempt(self._retry_attempts if retry else 1),
            wait=wait_exponential(multiplier=self._retry_wait, max=self._retry_wait * 4),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._guarded(call, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _guarded(self, call: _Call, attempt: int) -> ApiResponse:
        failures: list[_Transient] = []

        def send() -> ApiResponse:
            try:
                return self._send(call, attempt)
            except _Transient as exc:
                failures.append(exc)
                raise

        try:
            return self._breaker.call(send)
        except pybreaker.CircuitBreakerError:
            if failures:  # this attempt tripped the breaker: it was sent, report what happened
                raise failures[0] from None
            self._record(call, attempt, None, 0.0, "circuit_open")
            raise CircuitOpen("GestãoDS circuit breaker is open") from None

    def _send(self, call: _Call, attempt: int) -> ApiResponse:
        started = time.monotonic()

        def elapsed_ms() -> float:
            return (time.monotonic() - started) * 1000

        try:
            response = self._session.request(
                call.method,
                self._base_url + call.path,
                params=call.params,
                json=call.json,
                timeout=self._timeout,
            )
        except requests.Timeout as exc:
            self._record(call, attempt, None, elapsed_ms(), "timeout")
            timed_out = _Transient(f"GestãoDS {call.operation} timed out")
            timed_out.reached_api = not _never_connected(exc)
            raise timed_out from exc
        except requests.RequestException as exc:
            reason = f"connection error ({type(exc).__name__})"
            self._record(call, attempt, None, elapsed_ms(), reason)
            failure = _Transient(f"GestãoDS {call.operation}: {reason}")
            failure.reached_api = not _never_connected(exc)
            raise failure from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        status = effective_status(response.status_code, body)
        error: str | None = None
        if status >= 400:
            error = mask_text(message_of(body) or f"HTTP {status}")[:200]
        self._record(call, attempt, status, elapsed_ms(), error)
        if status >= 500 or status == 429:
            raise _Transient(f"GestãoDS {call.operation} failed: HTTP {status}", status)
        return ApiResponse(status=status, http_status=response.status_code, body=body)

    def _record(
        self, call: _Call, attempt: int, status: int | None, latency_ms: float, error: str | None
    ) -> None:
        record = ApiCallRecord(
            operation=call.operation,
            method=call.method,
            path=call.logged_path,
            status=status,
            latency_ms=round(latency_ms, 1),
            started_at=clock.now() - timedelta(milliseconds=latency_ms),
            error=error,
            cpf_masked=mask_cpf(call.cpf) if call.cpf else None,
            attempt=attempt,
        )
        report(record, self._on_call)


def _never_connected(error: requests.RequestException) -> bool:
    """The connection was never made (refused, DNS, connect timeout): nothing was sent."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
