"""`make run` supervises its processes: signals stop them all, a crashed one is restarted, and
not even a SIGKILL of the supervisor leaves orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clinicbot.settings import PROJECT_ROOT
from clinicbot.stack import MODEL_PATH
from tests.support.stack import SANDBOX_ONLY_ENV, free_port


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found[int(entry.name)] = command
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def start_supervisor(
    tmp_path: Path,
) -> Iterator[Callable[[], tuple[subprocess.Popen[str], Path]]]:
    started: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], Path]:
        if not MODEL_PATH.exists():
            pytest.fail("no trained model: `make test` trains it before pytest")
        ports = ["--rasa-port", str(free_port()), "--actions-port", str(free_port())]
        ports += ["--service-port", str(free_port()), "--sandbox-port", str(free_port())]
        process = subprocess.Popen(
            [sys.executable, "-m", "clinicbot.cli", "run", *ports],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                **SANDBOX_ONLY_ENV,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'clinicbot.db'}",
            },
            stdout=(tmp_path / "supervisor.log").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process, tmp_path / "supervisor.log"

    yield start
    for process in started:
        for pid in children(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait()


def test_sigterm_during_start_up_stops_every_child(start_supervisor) -> None:
    supervisor, _ = start_supervisor()
    spawned = wait_until(lambda: len(found := children(supervisor.pid)) >= 3 and found, 60, "3")
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=60) != 0  # interrupted before it was running
    wait_until(lambda: not any(alive(pid) for pid in spawned), 30, "children to exit")


def test_a_crashed_process_is_restarted_and_a_killed_supervisor_leaves_no_orphan(
    start_supervisor,
) -> None:
    supervisor, log = start_supervisor()

    def service_pid() -> int | None:
        return next(
            (p for p, cmd in children(supervisor.pid).items() if "clinicbot.web" in cmd), None
        )

    wait_until(lambda: "The assistant is running." in log.read_text(), 300, "the stack")
    crashed = service_pid()
    assert crashed is not None
    os.kill(crashed, signal.SIGKILL)

    def restarted() -> bool:
        _, restart, after = log.read_text().partition("service exited with -9: restarting")
        return bool(restart) and "service is ready" in after

    wait_until(restarted, 60, "the clinic service to be restarted")
    assert service_pid() not in (None, crashed)

    spawned = children(supervisor.pid)
    supervisor.kill()  # SIGKILL: no handler runs; the kernel tells the children
    supervisor.wait()
    wait_until(lambda: not any(alive(pid) for pid in spawned), 60, "orphans to exit")
