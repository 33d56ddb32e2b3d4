"""What every API route goes through: the key, its scope and rate limit, idempotent POSTs.

A route is ``async def handler(request, caller, **path_params) -> HTTPResponse`` wrapped in
:func:`endpoint`; it raises :class:`~clinicbot.api.problems.Problem` for anything but success.
The handler acts for the key's clinic (its sessions see that clinic's rows only, and
:func:`~clinicbot.api.services.api_services` gives that clinic's agenda). Database and agenda
work is synchronous and runs in the default executor (:func:`run_sync`), in the same context.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sanic import Request
from sanic.response import HTTPResponse, raw
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.api import idempotency
from clinicbot.api.keys import AuthFailed, Caller, RateLimited, authenticate
from clinicbot.api.problems import PROBLEM_CONTENT_TYPE, Problem, bad_request, unavailable
from clinicbot.api.services import clinic_services
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.current import UnknownClinic
from clinicbot.web.database import service_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]

UNAUTHORIZED = Problem(
    401,
    "unauthorized",
    ("Unauthorized", "Não autorizado"),
    (
        "Send a valid, unrevoked API key as 'Authorization: Bearer <key>'.",
        "Envie uma chave de API válida e não revogada em 'Authorization: Bearer <chave>'.",
    ),
    headers={"WWW-Authenticate": 'Bearer realm="clinicbot"'},
)


CLINIC_DISABLED = Problem(
    403,
    "clinic-disabled",
    ("Clinic disabled", "Clínica desativada"),
    (
        "The clinic this key belongs to is disabled.",
        "A clínica desta chave está desativada.",
    ),
)


async def run_sync(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function`` in the default executor, with the caller's context (the clinic acted for)."""
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def engine_of(request: Request) -> Engine:
    return service_engine(request.app)


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 problem."""
    try:
        body = request.json
    except Exception:  # Sanic raises its own InvalidUsage for malformed JSON
        body = None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.", "O corpo deve ser um objeto JSON.")
    return body


def forbidden(scope: str) -> Problem:
    return Problem(
        403,
        "insufficient-scope",
        ("Insufficient scope", "Escopo insuficiente"),
        (f"This key lacks the '{scope}' scope.", f"Esta chave não tem o escopo '{scope}'."),
        required_scope=scope,
    )


async def _caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise UNAUTHORIZED
    default_limit = request.app.ctx.settings.api_rate_limit_per_minute
    try:
        return await run_sync(
            authenticate, engine_of(request), header.removeprefix("Bearer ").strip(), default_limit
        )
    except AuthFailed as error:
        raise UNAUTHORIZED from error
    except RateLimited as error:
        raise Problem(
            429,
            "rate-limited",
            ("Too many requests", "Requisições demais"),
            (
                f"This key may make {error.limit} requests a minute; retry in "
                f"{error.retry_after} s.",
                f"Esta chave pode fazer {error.limit} requisições por minuto; tente de novo em "
                f"{error.retry_after} s.",
            ),
            headers={
                "Retry-After": str(error.retry_after),
                "RateLimit-Limit": str(error.limit),
                "RateLimit-Remaining": "0",
            },
        ) from error


async def _act_for_clinic(request: Request, caller: Caller) -> None:
    """Give the request its key's clinic's services; a disabled clinic's key is refused."""
    try:
        services = await run_sync(clinic_services, request.app, caller.clinic_id)
    except UnknownClinic as error:
        raise UNAUTHORIZED from error
    if not services.clinic.active:
        raise CLINIC_DISABLED
    request.ctx.api_services = services


async def _idempotent(
    request: Request, caller: Caller, handler: Handler, kwargs: dict[str, Any]
) -> HTTPResponse:
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    engine = engine_of(request)
    digest = idempotency.request_hash(request.method, request.path, request.body)
    stored = await run_sync(idempotency.begin, engine, caller.key_id, caller.clinic_id, key, digest)
    if stored is not None:
        content_type = PROBLEM_CONTENT_TYPE if stored.status >= 400 else "application/json"
        return raw(
            stored.body.encode(),
            status=stored.status,
            content_type=content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await _answer(request, caller, handler, kwargs)
    except BaseException:
        await run_sync(idempotency.finish, engine, caller.key_id, key, 500, "")
        raise
    body = (response.body or b"").decode()
    await run_sync(idempotency.finish, engine, caller.key_id, key, response.status, body)
    return response


async def _answer(
    request: Request, caller: Caller, handler: Handler, kwargs: dict[str, Any]
) -> HTTPResponse:
    try:
        return await handler(request, caller, **kwargs)
    except Problem as problem:
        return problem.response(request)
    except SQLAlchemyError as error:
        logger.error("API %s: database unavailable: %s", request.path, type(error).__name__)
        return unavailable(
            "The database is unavailable; try again.", "O banco de dados está indisponível."
        ).response(request)


def endpoint(scope: str) -> Callable[[Handler], Handler]:
    """Authenticate, check ``scope``, count the rate limit; POSTs are idempotent."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request, **kwargs: Any) -> HTTPResponse:
            try:
                caller = await _caller(request)
                if not caller.allows(scope):
                    raise forbidden(scope)
                await _act_for_clinic(request, caller)
                with acting_for(caller.clinic_id):
                    if request.method == "POST":
                        response = await _idempotent(request, caller, handler, kwargs)
                    else:
                        response = await _answer(request, caller, handler, kwargs)
            except Problem as problem:
                return problem.response(request)
            except SQLAlchemyError as error:
                logger.error("API auth: database unavailable: %s", type(error).__name__)
                return unavailable(
                    "The database is unavailable; try again.", "O banco de dados está indisponível."
                ).response(request)
            response.headers["RateLimit-Limit"] = str(caller.limit)
            response.headers["RateLimit-Remaining"] = str(caller.remaining)
            return response

        return run

    return wrap
