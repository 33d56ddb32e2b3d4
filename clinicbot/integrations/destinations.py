"""Where production may send webhooks: public internet addresses only.

A subscription URL is chosen by whoever holds an admin API key or a staff token; without this
check one could point the webhook worker at the clinic's own network (the database, Redis, a
cloud metadata endpoint) and read its answers in the delivery log. The URL's host is checked
when the subscription is made, and every address it resolves to is checked again at delivery
time, so a name that later resolves to a private address (DNS rebinding) is refused too.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver


class NonPublicDestination(OSError):
    """A webhook host that is, or resolves to, a loopback, private or reserved address.

    An ``OSError`` with a ``strerror``, so that aiohttp's connection error carries the reason.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EHOSTUNREACH, reason)


def is_public_address(address: str) -> bool:
    """A globally routable unicast address (not loopback, private, link-local or reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return bool(ip.is_global) and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """``host`` when it is an IP address literal, else None (a name)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def refuse_non_public_host(host: str) -> None:
    """Raise :class:`NonPublicDestination` for ``localhost`` or a non-public address literal.

    Names are checked when they are resolved (:class:`PublicOnlyResolver`).
    """
    address = literal_address(host)
    if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        raise NonPublicDestination(f"{host} is a local name")
    if address is not None and not is_public_address(address):
        raise NonPublicDestination(f"{host} is not a public address")


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the public addresses a name resolves to."""

    def __init__(self, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[dict[str, Any]]:
        refuse_non_public_host(host)
        resolved = await self._resolver.resolve(host, port, family)
        public = [entry for entry in resolved if is_public_address(entry["host"])]
        if not public:
            raise NonPublicDestination(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._resolver.close()


def webhook_http_session(*, public_only: bool) -> aiohttp.ClientSession:
    """The webhook worker's HTTP session; ``public_only`` (production) resolves names with
    :class:`PublicOnlyResolver`."""
    if not public_only:
        return aiohttp.ClientSession()
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver()))
