"""An unreachable PostgreSQL or Redis skips the test locally and fails it when ``CI`` is set."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.support.services import require_postgres, require_redis


def _closed_port() -> int:
    """A local port nothing listens on (just released by the OS)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _require_postgres(port: int) -> None:
    require_postgres(f"postgresql://postgres@127.0.0.1:{port}/test")


def _require_redis(port: int) -> None:
    require_redis(f"redis://127.0.0.1:{port}/0").close()


SERVICES = [
    pytest.param(_require_postgres, "PostgreSQL", id="postgresql"),
    pytest.param(_require_redis, "Redis", id="redis"),
]


@pytest.mark.parametrize("ci", ["true", "TRUE", "1", "yes", " Yes "])
@pytest.mark.parametrize(("require", "service"), SERVICES)
def test_ci_fails_when_the_service_is_unreachable(
    require: Callable[[int], None], service: str, ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    port = _closed_port()
    with pytest.raises(pytest.fail.Exception) as failure:
        require(port)
    message = str(failure.value)
    assert f"{service} is unreachable at " in message
    assert f"127.0.0.1:{port}/" in message
    assert f"requires {service}" in message


@pytest.mark.parametrize("ci", [None, "", "false", "0", "no"])
@pytest.mark.parametrize(("require", "service"), SERVICES)
def test_elsewhere_the_test_is_skipped_with_the_reason(
    require: Callable[[int], None], service: str, ci: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    port = _closed_port()
    with pytest.raises(pytest.skip.Exception) as skip:
        require(port)
    message = str(skip.value)
    assert f"{service} is unreachable at " in message and f"127.0.0.1:{port}/" in message
    assert "requires" not in message
