"""Real HTTP around the clinic service: the fake Z-API, a stand-in rasa server, the service."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from clinicbot.db.migrate import upgrade_to_head
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.sandbox.gestaods_fake import create_app as create_gestaods_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint
from clinicbot.settings import Settings, read_settings
from clinicbot.web.app import create_app
from tests.support.stack import free_port

INSTANCE_ID = "WEBTESTINSTANCE1"
INSTANCE_TOKEN = "web-test-instance-token"
CLIENT_TOKEN = "web-test-client-token"
AGENDA_TOKEN = "web-test-agenda-token"
MODEL_ID = "20261201-120000-stand-in"


class StandInRasa:
    """Answers like a running rasa/action server and captures the webhook requests it gets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        captured = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/status"):
                    self._answer(200, json.dumps({"model_id": MODEL_ID}).encode())
                    return
                self._answer(200, b"Hello from Rasa: 3.6.21")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                captured.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                self._answer(200, b'{"status":"received"}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInRasa:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def zapi_fake() -> Iterator[tuple[FakeZapi, str]]:
    fake = FakeZapi(INSTANCE_ID, INSTANCE_TOKEN, CLIENT_TOKEN)
    app = Sanic(f"test-web-zapi-{uuid.uuid4().hex[:8]}")
    app.blueprint(create_zapi_blueprint(fake))
    with BackgroundServer(app) as server:
        yield fake, server.url


@pytest.fixture(scope="session")
def gestaods_fake() -> Iterator[tuple[FakeGestaoDS, str]]:
    fake = FakeGestaoDS(AGENDA_TOKEN, read_settings().clinic_tz)
    with BackgroundServer(
        create_gestaods_app(fake, f"test-web-gds-{uuid.uuid4().hex[:8]}")
    ) as server:
        yield fake, server.url


@pytest.fixture(scope="session")
def rasa() -> Iterator[StandInRasa]:
    with StandInRasa() as stand_in:
        yield stand_in


def service_settings(
    tmp: Path, zapi_url: str, rasa_port: int, action_server_port: int, gestaods_url: str
) -> Settings:
    """The service's settings, on a migrated database; health is not cached (each test sees
    the dependencies as they are now)."""
    database_url = f"sqlite:///{tmp / 'service.db'}"
    upgrade_to_head(database_url)
    return dataclasses.replace(
        read_settings(),
        database_url=database_url,
        gestaods_base_url=gestaods_url,
        gestaods_token=AGENDA_TOKEN,
        gestaods_env="prod",
        health_cache_seconds=0,
        zapi_base_url=zapi_url,
        zapi_instance_id=INSTANCE_ID,
        zapi_instance_token=INSTANCE_TOKEN,
        zapi_client_token=CLIENT_TOKEN,
        rasa_port=rasa_port,
        action_server_url=f"http://127.0.0.1:{action_server_port}/webhook",
    )


@pytest.fixture(scope="session")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    zapi_fake: tuple[FakeZapi, str],
    gestaods_fake: tuple[FakeGestaoDS, str],
    rasa: StandInRasa,
) -> Iterator[str]:
    """The clinic service with every dependency up (the stand-in plays rasa and actions)."""
    settings = service_settings(
        tmp_path_factory.mktemp("up"), zapi_fake[1], rasa.port, rasa.port, gestaods_fake[1]
    )
    app = create_app(settings, name=f"test-service-{uuid.uuid4().hex[:8]}", simulator=True)
    with BackgroundServer(app) as server:
        yield server.url


@pytest.fixture(scope="session")
def service_without_rasa(
    tmp_path_factory: pytest.TempPathFactory,
    zapi_fake: tuple[FakeZapi, str],
    gestaods_fake: tuple[FakeGestaoDS, str],
) -> Iterator[str]:
    """The clinic service while neither the rasa server nor the action server runs."""
    tmp = tmp_path_factory.mktemp("down")
    settings = service_settings(tmp, zapi_fake[1], free_port(), free_port(), gestaods_fake[1])
    app = create_app(settings, name=f"test-service-{uuid.uuid4().hex[:8]}", simulator=True)
    with BackgroundServer(app) as server:
        yield server.url


@pytest.fixture(scope="session")
def zapi_credentials() -> dict[str, str]:
    """The Z-API instance the services above are configured with."""
    return {
        "instance_id": INSTANCE_ID,
        "instance_token": INSTANCE_TOKEN,
        "client_token": CLIENT_TOKEN,
    }
