"""The fake Z-API served over real HTTP on a free loopback port, shared by the suite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import requests
from sanic import Sanic

from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint
from clinicbot.whatsapp.zapi.client import ZapiClient

T = TypeVar("T")
INSTANCE_ID = "TESTINSTANCE0001"
INSTANCE_TOKEN = "test-instance-token"
CLIENT_TOKEN = "test-client-token"


class ZapiSandbox:
    """A running fake instance and helpers to call it with a fresh :class:`ZapiClient`."""

    client_token = CLIENT_TOKEN

    def __init__(self, server: BackgroundServer, fake: FakeZapi) -> None:
        self.server = server
        self.fake = fake

    @property
    def url(self) -> str:
        return self.server.url

    def instance_url(self, instance_id: str = INSTANCE_ID, token: str = INSTANCE_TOKEN) -> str:
        return f"{self.url}/instances/{instance_id}/token/{token}"

    def control(self, action: str, body: dict[str, object]) -> None:
        requests.post(
            f"{self.url}/__sandbox/zapi/{action}", json=body, timeout=5
        ).raise_for_status()

    def run(
        self,
        call: Callable[[ZapiClient], Awaitable[T]],
        *,
        client_token: str = CLIENT_TOKEN,
        instance_url: str | None = None,
        timeout: float = 5.0,
    ) -> T:
        """Run ``call`` with a client of this instance on a fresh event loop."""

        async def main() -> T:
            url = instance_url or self.instance_url()
            async with ZapiClient(url, client_token, timeout=timeout) as client:
                return await call(client)

        return asyncio.run(main())


@pytest.fixture(scope="session")
def zapi_sandbox_server() -> Iterator[ZapiSandbox]:
    fake = FakeZapi(INSTANCE_ID, INSTANCE_TOKEN, CLIENT_TOKEN)
    app = Sanic(f"test-zapi-{uuid.uuid4().hex[:8]}")
    app.blueprint(create_zapi_blueprint(fake))
    with BackgroundServer(app) as server:
        yield ZapiSandbox(server, fake)


@pytest.fixture
def zapi_sandbox(zapi_sandbox_server: ZapiSandbox) -> ZapiSandbox:
    zapi_sandbox_server.fake.reset()
    return zapi_sandbox_server
