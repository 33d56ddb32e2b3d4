"""The OpenAPI 3.1 document: valid, served, and in step with the routes in both directions."""

from __future__ import annotations

import re
import uuid
from typing import Any

import requests
from openapi_spec_validator import openapi_v31_spec_validator, validate_spec

from clinicbot.api.openapi import openapi_document
from clinicbot.web.app import create_app
from tests.api.conftest import Api

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _routes() -> set[tuple[str, str]]:
    """Every (method, path) the clinic service answers under /api/v1, in OpenAPI spelling."""
    app = create_app(name=f"openapi-{uuid.uuid4().hex[:8]}", simulator=False)
    found = set()
    for route in app.router.routes:
        path = "/" + route.path
        if not path.startswith("/api/v1"):
            continue
        path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", path)
        found.update((method.lower(), path) for method in route.methods if method != "HEAD")
    return found


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate_spec(document, validator=openapi_v31_spec_validator)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes, documented = _routes(), _documented(openapi_document())
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented routes that do not exist"
    assert len(routes) >= 17


def test_every_post_requires_an_idempotency_key_and_every_operation_has_problems() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            if method == "post":
                assert "Idempotency-Key" in names, path
            if operation.get("security"):
                problem = operation["responses"]["401"]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_document_and_its_page_are_served_without_a_key(api: Api) -> None:
    served = requests.get(f"{api.url}/api/v1/openapi.json", timeout=10)
    assert served.status_code == 200 and served.json() == openapi_document()
    page = requests.get(f"{api.url}/api/v1/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "bookAppointment" in page.text  # the document is embedded: nothing is fetched
    assert "<script src" not in page.text and "http://" not in page.text.split("<script id")[0]
