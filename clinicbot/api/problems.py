"""Errors as RFC 9457 problem details (``application/problem+json``), in English and Portuguese.

Every problem has the standard ``type``, ``title``, ``status`` and ``detail`` in English, and
the same text in Brazilian Portuguese in the extension members ``title_pt`` and ``detail_pt``:
one body serves an integrator's logs and the clinic's staff, with no content negotiation.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import MethodNotSupported, NotFound
from sanic.response import HTTPResponse, json

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://clinicbot.example/problems/"


class Problem(Exception):
    """An error the API answers with; ``slug`` names its ``type``."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: tuple[str, str],
        detail: tuple[str, str],
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail[0])
        self.status = status
        self.slug = slug
        self.title, self.title_pt = title
        self.detail, self.detail_pt = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "title_pt": self.title_pt,
            "detail_pt": self.detail_pt,
            **self.extra,
        }
        if instance:
            body["instance"] = instance
        return body

    def response(self, request: Request | None = None) -> HTTPResponse:
        return json(
            self.body(request.path if request is not None else None),
            status=self.status,
            headers=self.headers,
            content_type=PROBLEM_CONTENT_TYPE,
        )


def bad_request(detail: str, detail_pt: str, **extra: Any) -> Problem:
    return Problem(
        400,
        "invalid-request",
        ("Invalid request", "Requisição inválida"),
        (detail, detail_pt),
        **extra,
    )


def not_found(detail: str, detail_pt: str) -> Problem:
    return Problem(404, "not-found", ("Not found", "Não encontrado"), (detail, detail_pt))


def conflict(slug: str, detail: str, detail_pt: str) -> Problem:
    return Problem(409, slug, ("Conflict", "Conflito"), (detail, detail_pt))


def unavailable(detail: str, detail_pt: str) -> Problem:
    return Problem(
        503,
        "service-unavailable",
        ("Service unavailable", "Serviço indisponível"),
        (detail, detail_pt),
        headers={"Retry-After": "30"},
    )


ROUTE_NOT_FOUND = not_found("No such route in the API.", "Essa rota não existe na API.")
METHOD_NOT_ALLOWED = Problem(
    405,
    "method-not-allowed",
    ("Method not allowed", "Método não permitido"),
    ("This route does not accept that method.", "Essa rota não aceita esse método."),
)


def install_problem_handlers(app: Sanic, prefix: str) -> None:
    """Unknown routes and methods under ``prefix`` answer as problems too."""
    default = app.error_handler.default

    @app.exception(NotFound, MethodNotSupported)
    async def routing_problem(request: Request, exception: Exception) -> HTTPResponse:
        if not request.path.startswith(prefix):
            fallback: HTTPResponse = default(request, exception)  # type: ignore[no-untyped-call]
            return fallback
        problem = METHOD_NOT_ALLOWED if isinstance(exception, MethodNotSupported) else None
        return (problem or ROUTE_NOT_FOUND).response(request)
