"""Who may call the API, how often, and what repeating a POST does: keys, scopes, the per-key
rate limit, Idempotency-Key, and problem details for every refusal (real HTTP and database)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from clinicbot import clock
from clinicbot.api.keys import revoke_key
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiKey
from tests.api.conftest import MARINA_CPF, PHONE, Api, assert_problem


@pytest.fixture
def pinned_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    """The project clock at 5 s past a minute: a rate-limit window has 55 s left."""
    moment = (clock.now() + timedelta(minutes=1)).replace(second=5, microsecond=0)
    path = tmp_path / "clock"
    clock.set_clock_file(path, moment)
    monkeypatch.setenv("CLOCK_FILE", str(path))
    yield moment


def test_no_key_a_bad_key_and_a_revoked_key_are_401(api: Api) -> None:
    assert_problem(api.get("/api/v1/waiting-list", {}), 401)
    assert_problem(api.get("/api/v1/waiting-list", {"Authorization": "Bearer cbk_x_y"}), 401)
    headers = api.key("read")
    assert api.get("/api/v1/waiting-list", headers).status_code == 200
    with session_scope(api.engine) as session:
        row = session.execute(select(ApiKey)).scalar_one()
        assert row.last_used_at is not None and row.key_hash not in headers["Authorization"]
        assert revoke_key(session, row.id)
    answer = assert_problem(api.get("/api/v1/waiting-list", headers), 401)
    assert "Bearer" in answer["detail"] and answer["detail_pt"] != answer["detail"]


def test_scopes_read_write_admin(api: Api) -> None:
    read, write, admin = api.key("read"), api.key("write"), api.key("admin")
    body = {"phone": PHONE, "cpf": MARINA_CPF}
    problem = assert_problem(api.post("/api/v1/waiting-list", read, body), 403)
    assert problem["required_scope"] == "write"
    assert api.post("/api/v1/waiting-list", write, body).status_code == 201
    assert api.get("/api/v1/waiting-list", write).status_code == 200  # write includes read
    assert_problem(api.get(f"/api/v1/patients/{PHONE}/conversations", write), 403)
    assert api.get(f"/api/v1/patients/{PHONE}/conversations", admin).status_code == 200
    assert_problem(api.get("/api/v1/webhooks/subscriptions", write), 403)


def test_the_rate_limit_is_per_key(api: Api, pinned_clock: datetime) -> None:
    limited, other = api.key("read", limit=3), api.key("read", limit=3)
    remaining = []
    for _ in range(3):
        answer = api.get("/api/v1/waiting-list", limited)
        assert answer.status_code == 200
        remaining.append(answer.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = api.get("/api/v1/waiting-list", limited)
    assert_problem(refused, 429)
    assert refused.headers["Retry-After"] == "55"
    assert api.get("/api/v1/waiting-list", other).status_code == 200

    clock.set_clock_file(Path(os.environ["CLOCK_FILE"]), pinned_clock + timedelta(minutes=1))
    assert api.get("/api/v1/waiting-list", limited).status_code == 200  # a new window


def test_a_repeated_post_replays_the_first_answer(
    api: Api, free_slot: Callable[[int], datetime]
) -> None:
    write = api.key("write")
    slot = free_slot(0)
    body = {"phone": PHONE, "cpf": MARINA_CPF, "starts_at": slot.isoformat()}
    first = api.post("/api/v1/appointments", write, body, key="booking-1")
    again = api.post("/api/v1/appointments", write, {**body}, key="booking-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(api.events("appointment.booked")) == 1

    other = {**body, "starts_at": free_slot(1).isoformat()}
    reused = assert_problem(api.post("/api/v1/appointments", write, other, key="booking-1"), 422)
    assert reused["type"].endswith("idempotency-key-reused")
    assert len(api.events("appointment.booked")) == 1

    # The key is the caller's: another key may use the same string for its own request.
    assert api.post("/api/v1/waiting-list", api.key("write"), body, key="booking-1").ok

    # A refusal is kept too: the retry gets the same 409, without asking the agenda again.
    taken = api.post("/api/v1/appointments", write, body, key="booking-2")
    assert_problem(taken, 409)
    assert (
        api.post("/api/v1/appointments", write, body, key="booking-2").headers[
            "Idempotent-Replayed"
        ]
        == "true"
    )


def test_a_post_without_idempotency_key_is_a_400(api: Api) -> None:
    answer = requests.post(
        f"{api.url}/api/v1/waiting-list",
        headers=api.key("write"),
        json={"phone": PHONE, "cpf": MARINA_CPF},
        timeout=10,
    )
    assert assert_problem(answer, 400)["type"].endswith("idempotency-key-required")


def test_cursor_pages_return_every_row_once(api: Api) -> None:
    write, read = api.key("write"), api.key("read")
    phones = [f"55319888{n:05d}" for n in range(5)]
    for phone in phones:
        assert api.post("/api/v1/waiting-list", write, {"phone": phone, "cpf": MARINA_CPF}).ok
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/waiting-list", read, **params).json()
        seen += [entry["phone"] for entry in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == phones and pages == 3


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.get("/api/v1/nothing-here", api.key("read")), 404)
    answer = requests.put(f"{api.url}/api/v1/metrics", timeout=10)
    assert_problem(answer, 405)
    assert requests.get(f"{api.url}/not-api", timeout=10).status_code == 404


def test_an_idempotency_key_is_kept_a_day(api: Api, pinned_clock: datetime) -> None:
    write = api.key("write")
    first = {"phone": PHONE, "cpf": MARINA_CPF}
    assert api.post("/api/v1/waiting-list", write, first, key="join").status_code == 201
    other = {"phone": "5531977776666", "cpf": "52998224725"}
    assert_problem(api.post("/api/v1/waiting-list", write, other, key="join"), 422)
    clock.set_clock_file(Path(os.environ["CLOCK_FILE"]), pinned_clock + timedelta(hours=25))
    assert api.post("/api/v1/waiting-list", write, other, key="join").status_code == 201
