"""Production webhooks reach public addresses only: a name that resolves inside the clinic's
network is refused at connection time, through aiohttp's real connector (DNS rebinding)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from clinicbot.integrations.destinations import (
    NonPublicDestination,
    PublicOnlyResolver,
    is_public_address,
)


class FixedResolver(AbstractResolver):
    """Resolves every name to the given addresses (what a hostile DNS answer could say)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[dict[str, Any]]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


class Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        Recorder.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def local_receiver() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.hits = []
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def post(resolver: AbstractResolver, url: str) -> int:
    async def send() -> int:
        connector = aiohttp.TCPConnector(resolver=resolver)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(url, data=b"{}") as answer,
        ):
            return answer.status

    return asyncio.run(send())


def test_public_and_non_public_addresses() -> None:
    assert is_public_address("93.184.216.34") and is_public_address("2606:4700::1111")
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "169.254.169.254", "::1", "fd00::1"):
        assert not is_public_address(address), address


def test_a_name_resolving_inside_the_network_is_never_connected(local_receiver: int) -> None:
    url = f"http://crm.example.org:{local_receiver}/hooks"
    assert post(FixedResolver("127.0.0.1"), url) == 204  # without the check, it gets through
    with pytest.raises(aiohttp.ClientConnectorError, match="no public address"):
        post(PublicOnlyResolver(FixedResolver("127.0.0.1", "10.0.0.7")), url)
    with pytest.raises(aiohttp.ClientConnectorError, match="local name"):
        post(PublicOnlyResolver(FixedResolver("127.0.0.1")), f"http://localhost:{local_receiver}/")
    assert Recorder.hits == ["/hooks"]


def test_only_the_public_addresses_of_a_mixed_answer_are_kept() -> None:
    resolver = PublicOnlyResolver(FixedResolver("10.0.0.7", "93.184.216.34"))
    kept = asyncio.run(resolver.resolve("crm.example.org", 443))
    assert [entry["host"] for entry in kept] == ["93.184.216.34"]
    with pytest.raises(NonPublicDestination):
        asyncio.run(PublicOnlyResolver(FixedResolver("169.254.169.254")).resolve("x.example", 80))
