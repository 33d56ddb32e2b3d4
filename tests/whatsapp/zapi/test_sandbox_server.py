"""The sandbox app mounts both fakes, and ``python -m clinicbot.sandbox.server`` serves it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import uuid

import requests

from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.sandbox.server import BackgroundServer, create_sandbox_app
from clinicbot.settings import PROJECT_ROOT, read_settings
from tests.support.stack import free_port


def test_sandbox_app_serves_both_fakes_with_settings_credentials() -> None:
    settings = dataclasses.replace(
        read_settings(),
        zapi_instance_id="SBX1",
        zapi_instance_token="sbx-token",
        zapi_client_token="sbx-client",
    )
    app = create_sandbox_app(settings, name=f"test-sandbox-{uuid.uuid4().hex[:8]}")
    assert isinstance(app.ctx.gestaods, FakeGestaoDS)
    with BackgroundServer(app) as server:
        assert requests.get(f"{server.url}/__sandbox/health", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{server.url}/__sandbox/gestaods/state", timeout=5).ok
        sent = requests.post(
            f"{server.url}/instances/SBX1/token/sbx-token/send-text",
            json={"phone": "5531988887777", "message": "oi"},
            headers={"Client-Token": "sbx-client"},
            timeout=5,
        )
        assert sent.ok
        assert [m.message for m in app.ctx.zapi.messages] == ["oi"]


def test_module_runs_the_sandbox_on_the_given_port() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clinicbot.sandbox.server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/__sandbox/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, "the sandbox exited"
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
