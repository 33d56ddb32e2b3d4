"""Start and stop the assistant's processes: sandbox fakes, action server, rasa, clinic service.

``make run`` uses it through :mod:`clinicbot.cli`; the end-to-end tests use it too, on their own
ports, so they exercise exactly what a clinic runs.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import requests
import yaml

from clinicbot import clock
from clinicbot.clock import parse_start, read_clock_file, set_clock_file
from clinicbot.logs import rasa_logging_config
from clinicbot.production import require_safe_environment
from clinicbot.settings import PROJECT_ROOT, SANDBOX_PORT, Settings, read_settings

logger = logging.getLogger(__name__)

MODEL_PATH = PROJECT_ROOT / "models" / "clinicbot.tar.gz"
PR_SET_PDEATHSIG = 1  # prctl(2)
RESTART_TIMEOUT = 240.0  # rasa loads its model again
# rasa answers /status with 409 when it runs without a usable model (it would drop messages).
MODEL_NOT_LOADED = 409
BIN = Path(sys.executable).parent


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _write_private(path: Path, content: dict[str, Any]) -> Path:
    """Write YAML readable by this user only (it may hold a token)."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Ports:
    rasa: int = 5005
    actions: int = 5055
    service: int = 8000
    sandbox: int = SANDBOX_PORT


@dataclass
class Service:
    name: str
    argv: list[str]
    ready_url: str
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started_at: float | None = None  # time.monotonic() of the last spawn
    ready_after: float | None = None  # seconds from that spawn to the first ready answer


@dataclass
class Stack:
    """The processes of one assistant. ``log_dir=None`` lets them write to this terminal."""

    ports: Ports = field(default_factory=Ports)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    model: Path = MODEL_PATH
    services: list[Service] = field(default_factory=list)
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    api_token: str = field(default_factory=lambda: secrets.token_hex(24))
    action_server_token: str = field(default_factory=lambda: secrets.token_hex(24))
    # Give the processes a clock the caller can move (set_clock), outside production only.
    movable_clock: bool = False
    clock_file: Path | None = None
    # Which of its processes ("sandbox", "actions", "rasa", "service") this stack starts; None:
    # all it needs. One more rasa instance (with its action server) next to a running stack is
    # ``{"actions", "rasa"}`` on that stack's service and sandbox ports (bench/scale_benchmark.py).
    only: frozenset[str] | None = None

    def child_env(self) -> dict[str, str]:
        """The environment every process gets: the caller's, plus sandbox URLs when in use."""
        env = {**os.environ, **self.env}
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{self.ports.actions}/webhook"
        env["RASA_PORT"] = str(self.ports.rasa)
        env["CLINIC_SERVICE_PORT"] = str(self.ports.service)
        # Secrets shared by the processes of one run; an empty variable counts as unset.
        # RASA_API_TOKEN: the clinic service hands conversations back to the bot through it.
        if not env.get("RASA_API_TOKEN", "").strip():
            env["RASA_API_TOKEN"] = self.api_token
        if not env.get("ACTION_SERVER_TOKEN", "").strip():
            env["ACTION_SERVER_TOKEN"] = self.action_server_token
        sandbox_url = f"http://127.0.0.1:{self.ports.sandbox}"
        if not env.get("GESTAODS_TOKEN"):
            env["GESTAODS_BASE_URL"] = sandbox_url
        if not env.get("ZAPI_INSTANCE_ID"):
            env["ZAPI_BASE_URL"] = sandbox_url
        return env

    def settings(self) -> Settings:
        saved = dict(os.environ)
        try:
            os.environ.update(self.child_env())
            return read_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def plan(self, run_dir: Path) -> list[Service]:
        """The processes to start, in order."""
        settings = self.settings()
        ports = self.ports
        services = []
        if settings.uses_sandbox_gestaods or settings.uses_sandbox_zapi:
            services.append(
                Service(
                    "sandbox",
                    [
                        sys.executable,
                        "-m",
                        "clinicbot.sandbox.server",
                        "--port",
                        str(ports.sandbox),
                    ],
                    f"http://127.0.0.1:{ports.sandbox}/__sandbox/health",
                )
            )
        services.append(
            Service(
                "actions",
                [
                    sys.executable,
                    "-m",
                    "clinicbot.rasa.action_server",
                    "--port",
                    str(ports.actions),
                ],
                f"http://127.0.0.1:{ports.actions}/health",
            )
        )
        services.append(
            Service(
                "rasa",
                [
                    str(BIN / "rasa"),
                    "run",
                    "--model",
                    str(self.model),
                    "--interface",
                    settings.rasa_host,
                    "--port",
                    str(ports.rasa),
                    "--enable-api",
                    f"--auth-token={settings.rasa_api_token}",
                    "--credentials",
                    str(self._credentials_file(run_dir, settings)),
                    "--endpoints",
                    str(self._endpoints_file(run_dir, settings)),
                    *self._rasa_logging_args(run_dir, settings),
                ],
                f"http://127.0.0.1:{ports.rasa}/status?token={settings.rasa_api_token}",
            )
        )
        services.append(
            Service(
                "service",
                [
                    sys.executable,
                    "-m",
                    "clinicbot.web",
                    "--host",
                    settings.clinic_service_host,
                    "--port",
                    str(ports.service),
                ],
                f"http://127.0.0.1:{ports.service}/health",
            )
        )
        if self.only is not None:
            return [service for service in services if service.name in self.only]
        return services

    def _endpoints_file(self, run_dir: Path, settings: Settings) -> Path:
        """``endpoints.yml`` pointed at this stack's action server (with its shared secret) and
        at its clinic service's NLG endpoint."""
        endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        endpoints["action_endpoint"] = {
            "url": f"http://127.0.0.1:{self.ports.actions}/webhook",
            "token": settings.action_server_token,
        }
        endpoints["nlg"] = {
            "url": f"http://127.0.0.1:{self.ports.service}/nlg",
            "type": endpoints["nlg"]["type"],
        }
        return _write_private(run_dir / f"endpoints-{self.ports.rasa}.yml", endpoints)

    def _rasa_logging_args(self, run_dir: Path, settings: Settings) -> list[str]:
        """JSON logs (``LOG_FORMAT=json``) through rasa's own logging config file; rasa reads
        ``LOG_LEVEL`` itself."""
        if settings.log_format != "json":
            return []
        path = _write_private(run_dir / f"logging-{self.ports.rasa}.yml", rasa_logging_config())
        return ["--logging-config-file", str(path)]

    def _credentials_file(self, run_dir: Path, settings: Settings) -> Path:
        """``credentials.yml`` with the channels this mode may mount.

        In production only the WhatsApp channels whose credentials are all set, and never
        Rasa's REST channel (anyone could talk as any patient through it).
        """
        channels = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"))
        if settings.production:
            enabled = {"zapi": settings.zapi_enabled, "meta": settings.meta_enabled}
            channels = {
                key: value
                for key, value in channels.items()
                if any(provider in key.lower() and on for provider, on in enabled.items())
            }
        return _write_private(run_dir / f"credentials-{self.ports.rasa}.yml", channels)

    def start(self, timeout: float = 240.0) -> None:
        """Start every process and wait until each answers; stops them all on failure."""
        from clinicbot.db.migrate import upgrade_to_head

        if not self.model.exists():
            raise RuntimeError(f"no trained model at {self.model}: run `make train` first")
        run_dir = self.log_dir or PROJECT_ROOT / "var" / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        env = self.child_env()
        require_safe_environment(env)
        self._share_clock(env, run_dir)
        upgrade_to_head(env.get("DATABASE_URL") or None)
        self.services = self.plan(run_dir)
        self._env = env
        deadline = time.monotonic() + timeout
        try:
            for service in self.services:
                self._spawn(service, env)
            for service in self.services:
                self._wait_ready(service, deadline)
        except BaseException:
            self.stop()
            raise

    def _share_clock(self, env: dict[str, str], run_dir: Path) -> None:
        """Start every process on one clock file when ``CLOCK_START`` asks for another time,
        or when the caller wants to move the clock (:mod:`clinicbot.clock`)."""
        start = env.get("CLOCK_START", "").strip()
        production = env.get("APP_ENV", "").strip().lower() == "production"
        if production:
            return
        if env.get("CLOCK_FILE"):  # the caller's processes already share one
            self.clock_file = Path(env["CLOCK_FILE"])
            return
        if not (start or self.movable_clock):
            return
        self.clock_file = run_dir / f"clock-{self.ports.rasa}"
        tz = self.settings().clinic_tz
        set_clock_file(self.clock_file, parse_start(start, tz) if start else clock.now())
        env["CLOCK_FILE"] = str(self.clock_file)

    def set_clock(self, moment: datetime) -> None:
        """Move every process's clock to ``moment`` (needs ``movable_clock``)."""
        if self.clock_file is None:
            raise RuntimeError("this stack runs on the system clock (movable_clock=False)")
        set_clock_file(self.clock_file, moment)

    def clock_now(self) -> datetime:
        """What the processes' clock reads now."""
        return read_clock_file(self.clock_file) if self.clock_file else clock.now()

    def _spawn(self, service: Service, env: dict[str, str]) -> None:
        output: IO[bytes] | None = None
        if service.log is not None:
            service.log.close()  # a restart appends to the same file
        if self.log_dir is not None:
            output = (self.log_dir / f"{service.name}.log").open("ab")
            service.log = output
        service.process = subprocess.Popen(
            service.argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
            preexec_fn=_die_with_parent,
        )
        service.started_at, service.ready_after = time.monotonic(), None
        logger.info("started %s (pid %s)", service.name, service.process.pid)

    @staticmethod
    def _wait_ready(service: Service, deadline: float) -> None:
        assert service.process is not None
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
            try:
                status = requests.get(service.ready_url, timeout=2).status_code
                if status == 200:
                    if service.started_at is not None:
                        service.ready_after = time.monotonic() - service.started_at
                    logger.info("%s is ready", service.name)
                    return
                if status == MODEL_NOT_LOADED:
                    raise RuntimeError(
                        f"{service.name} is up but could not load its model (see its log); "
                        "retrain with `make train`"
                    )
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service.name} did not become ready")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every process (last started first), then SIGKILL what is left."""
        running = [s for s in reversed(self.services) if s.process and s.process.poll() is None]
        for service in running:
            assert service.process is not None
            os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
        for service in self.services:
            if service.log:
                service.log.close()

    def supervise(self, stop: threading.Event, max_restarts: int = 3) -> int:
        """Keep the processes running until ``stop`` is set (then 0).

        A process that exits is started again, at most ``max_restarts`` times each; after
        that, or when it does not come back, the exit code is returned and the caller stops
        the rest.
        """
        restarts: dict[str, int] = {}
        while not stop.wait(1.0):
            for service in self.services:
                assert service.process is not None
                code = service.process.poll()
                if code is None:
                    continue
                restarts[service.name] = restarts.get(service.name, 0) + 1
                if restarts[service.name] > max_restarts:
                    logger.error(
                        "%s exited with %s and was restarted %d times already: giving up",
                        service.name,
                        code,
                        max_restarts,
                    )
                    return code or 1
                logger.warning(
                    "%s exited with %s: restarting it (%d of %d)",
                    service.name,
                    code,
                    restarts[service.name],
                    max_restarts,
                )
                self._spawn(service, self._env)
                try:
                    self._wait_ready(service, time.monotonic() + RESTART_TIMEOUT)
                except (RuntimeError, TimeoutError) as error:
                    logger.error("%s did not come back: %s", service.name, error)
                    return 1
        return 0
