"""A PostgreSQL cluster and a Redis server of a test's own, on free ports, to stop and restart.

The fault tests restart the database and kill Redis under a running stack: never the machine's
shared servers, which other engineers' tests use. The cluster is made with ``initdb`` in a
temporary directory (as the ``postgres`` user when running as root: PostgreSQL refuses root) and
run with ``pg_ctl``; Redis is a ``redis-server`` child without persistence. When the binaries
are missing the test is skipped (failed in CI, :func:`tests.support.services.service_unavailable`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.services import service_unavailable
from tests.support.stack import free_port

READY_SECONDS = 30.0


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major_version)
    return found[-1] if found else shutil.which(name)


def _major_version(path: str) -> int:
    version = Path(path).parts[-3]
    return int(version) if version.isdigit() else 0


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory, trust auth, listening on 127.0.0.1."""

    def __init__(self) -> None:
        initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            service_unavailable(
                "PostgreSQL binaries", "initdb/pg_ctl", "not installed", "install postgresql"
            )
        self._initdb, self._pg_ctl = initdb, pg_ctl
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="clinicbot-pg-"))
        self.data = self.directory / "data"
        self._user = _server_user()
        if self._user is not None:
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/clinicbot"

    def create(self) -> ThrowawayPostgres:
        """initdb, start, and create the ``clinicbot`` database."""
        self._run(self._initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run(
            str(Path(self._pg_ctl).with_name("createdb")),
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "clinicbot",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            self._pg_ctl, "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "server.log"), "-w", "-t", str(int(READY_SECONDS)), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast``: connections are cut, as a restart by the operator does; ``immediate``: a
        crash (recovery on the next start)."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", self._user.pw_name, "--"] if self._user is not None else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=READY_SECONDS)


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the cluster: ``postgres`` when this process is root, else this process."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        service_unavailable("PostgreSQL", "initdb", "no postgres user to run it as root", "")


class OwnRedis:
    """A ``redis-server`` on a free port, without persistence (a restart starts empty)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("Redis", "redis-server", "not installed", "install redis-server")
        self._binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        give_up = time.monotonic() + READY_SECONDS
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        """``kill -9``: what a crash or an OOM kill does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
