"""Managing keys and subscriptions: the staff endpoints (staff token) and the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from clinicbot.settings import PROJECT_ROOT
from tests.api.conftest import STAFF_TOKEN, Api

STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def test_staff_create_use_list_and_revoke_a_key(api: Api) -> None:
    assert requests.get(f"{api.url}/staff/api-keys", timeout=10).status_code == 401
    created = requests.post(
        f"{api.url}/staff/api-keys",
        headers=STAFF,
        json={"name": "CRM", "scopes": ["read", "write"], "rate_limit_per_minute": 30},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert api.get("/api/v1/waiting-list", bearer).headers["RateLimit-Limit"] == "30"

    [listed] = requests.get(f"{api.url}/staff/api-keys", headers=STAFF, timeout=10).json()["data"]
    assert key not in str(listed) and key.startswith(listed["prefix"] + "_")
    assert listed["scopes"] == ["read", "write"] and listed["last_used_at"] is not None

    bad = requests.post(
        f"{api.url}/staff/api-keys", headers=STAFF, json={"scopes": ["root"]}, timeout=10
    )
    assert bad.status_code == 400
    revoked = requests.delete(f"{api.url}/staff/api-keys/{listed['id']}", headers=STAFF, timeout=10)
    assert revoked.json()["revoked"] is True
    assert api.get("/api/v1/waiting-list", bearer).status_code == 401
    missing = requests.delete(f"{api.url}/staff/api-keys/999", headers=STAFF, timeout=10)
    assert missing.status_code == 404


def test_staff_subscriptions_and_delivery_log(api: Api) -> None:
    created = requests.post(
        f"{api.url}/staff/webhooks/subscriptions",
        headers=STAFF,
        json={"url": "https://crm.example.org/hooks", "event_types": ["*"]},
        timeout=10,
    )
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    api.post(
        "/api/v1/waiting-list", api.key("write"), {"phone": "5531988887777", "cpf": "39053344705"}
    )
    log = requests.get(f"{api.url}/staff/webhooks/deliveries", headers=STAFF, timeout=10).json()
    [delivery] = log["data"]
    replay = requests.post(
        f"{api.url}/staff/webhooks/deliveries/{delivery['delivery_id']}/replay",
        headers=STAFF,
        timeout=10,
    )
    assert replay.status_code == 202
    gone = requests.delete(
        f"{api.url}/staff/webhooks/subscriptions/{created.json()['id']}", headers=STAFF, timeout=10
    )
    assert gone.json()["active"] is False


def test_the_command_line_creates_lists_and_revokes(api: Api) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": api.engine.url.render_as_string(hide_password=False),
        "PYTHONPATH": str(PROJECT_ROOT),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clinicbot.cli", "api-keys", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    created = cli("create", "--name", "ERP", "--scopes", "read,admin")
    assert created.returncode == 0, created.stderr
    key = created.stdout.split(": ", 1)[1].split()[0]
    assert api.get("/api/v1/webhooks/subscriptions", {"Authorization": f"Bearer {key}"}).ok
    listed = cli("list")
    assert "read,admin" in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.split()[0]
    assert cli("revoke", key_id).returncode == 0
    assert api.get("/api/v1/metrics", {"Authorization": f"Bearer {key}"}).status_code == 401
    assert cli("revoke", "999").returncode == 1
    assert cli("create", "--name", "x", "--scopes", "root").returncode == 2
