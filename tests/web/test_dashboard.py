"""The dashboard's JSON and pages over real HTTP: the staff token guards every figure."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from tests.support.dashboard_seed import EXPECTED, EXPECTED_REVIEW, approx_nested
from tests.support.databases import databases
from tests.web.dashboard_service import (
    BEARER,
    dashboard_url,
    dashboard_url_on,
    seeded_database,
    start_service,
)

__all__ = ["dashboard_url", "dashboard_url_on", "databases"]  # fixtures
RANGE = {"from": "2031-03-10", "to": "2031-03-12"}
GUARDED = ["/staff/api/session", "/staff/api/dashboard", "/staff/api/dashboard/review",
           "/staff/api/dashboard/review.yml"]  # fmt: skip


@pytest.mark.parametrize("path", GUARDED)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_no_figure_without_the_staff_token(
    dashboard_url: str, path: str, headers: dict[str, str]
) -> None:
    response = requests.get(f"{dashboard_url}{path}", params=RANGE, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


def test_with_no_staff_token_configured_nobody_gets_in(tmp_path: Path) -> None:
    server = start_service(seeded_database(tmp_path), staff_token="")
    try:
        for headers in ({}, {"Authorization": "Bearer "}):
            response = requests.get(
                f"{server.url}/staff/api/dashboard", params=RANGE, headers=headers, timeout=10
            )
            assert response.status_code == 401
    finally:
        server.stop()


def test_the_figures_are_the_hand_computed_ones(dashboard_url_on: str) -> None:
    response = requests.get(
        f"{dashboard_url_on}/staff/api/dashboard", params=RANGE, headers=BEARER, timeout=10
    )
    assert response.status_code == 200
    report = response.json()
    assert report.pop("clinic_id") == 1
    assert report == approx_nested(EXPECTED)


def test_the_review_table_and_its_rasa_export(dashboard_url_on: str) -> None:
    dashboard_url = dashboard_url_on
    review = requests.get(
        f"{dashboard_url}/staff/api/dashboard/review", params=RANGE, headers=BEARER, timeout=10
    ).json()
    assert (review["below"], review["truncated"]) == (0.6, False)
    assert [
        (m["at"], m["text"], m["intent"], m["predicted_intent"], m["confidence"])
        for m in review["messages"]
    ] == EXPECTED_REVIEW

    export = requests.get(
        f"{dashboard_url}/staff/api/dashboard/review.yml",
        params={**RANGE, "below": "0.3"},
        headers=BEARER,
        timeout=10,
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/yaml")
    assert export.headers["content-disposition"] == (
        'attachment; filename="nlu_review_2031-03-10_2031-03-12.yml"'
    )
    assert yaml.safe_load(export.text)["nlu"] == [
        {"intent": "agendar_consulta", "examples": [{"text": "Quero marca consulta"}]},
        {"intent": "agradecer", "examples": [{"text": "[clique] (aqui) vlw"}]},
    ]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"from": "2031-03-12", "to": "2031-03-10"}, "the range ends before it starts"),
        ({"from": "ontem"}, "dates must be YYYY-MM-DD"),
        ({**RANGE, "below": "2"}, "below must be between 0 and 1"),
        ({**RANGE, "below": "muito"}, "below must be a number"),
    ],
)
def test_a_bad_query_is_a_400_that_says_why(
    dashboard_url: str, params: dict[str, str], error: str
) -> None:
    response = requests.get(
        f"{dashboard_url}/staff/api/dashboard/review", params=params, headers=BEARER, timeout=10
    )
    assert (response.status_code, response.json()) == (400, {"error": error})


@pytest.mark.parametrize("path", ["/staff/dashboard", "/staff/login"])
def test_the_pages_hold_no_data_and_load_nothing_from_elsewhere(
    dashboard_url: str, path: str
) -> None:
    response = requests.get(f"{dashboard_url}{path}", timeout=10)
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "2031" not in response.text and "http" not in response.text.replace("http-equiv", "")


def test_chart_js_is_served_from_the_project(dashboard_url: str) -> None:
    response = requests.get(f"{dashboard_url}/staff/vendor/chart.js/chart.umd.js", timeout=10)
    assert response.status_code == 200
    assert response.text.startswith("/*!\n * Chart.js v4.6.1")


def test_a_database_that_is_down_is_a_503_not_a_500() -> None:
    server = start_service("postgresql://postgres@127.0.0.1:9/clinicbot_nowhere")
    try:
        response = requests.get(
            f"{server.url}/staff/api/dashboard", params=RANGE, headers=BEARER, timeout=30
        )
        assert (response.status_code, response.json()) == (
            503,
            {"error": "the database is unavailable; try again"},
        )
    finally:
        server.stop()
