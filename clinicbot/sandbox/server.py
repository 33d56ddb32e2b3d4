"""The sandbox: fakes of GestãoDS, Z-API and the Meta Graph API in one Sanic app on loopback.

Run it with ``python -m clinicbot.sandbox.server [--port N]``. Tests embed it (or any Sanic app)
with :class:`BackgroundServer`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import threading
from datetime import date
from types import TracebackType

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from sanic.server.async_server import AsyncioServer

from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_gestaods_blueprint
from clinicbot.sandbox.meta_fake import FakeMeta, create_meta_blueprint
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint
from clinicbot.settings import SANDBOX_PORT, Settings, get_settings, is_production

logger = logging.getLogger("clinicbot.sandbox")


def create_sandbox_app(
    settings: Settings | None = None,
    *,
    name: str = "clinicbot-sandbox",
    today: date | None = None,
) -> Sanic:
    """The sandbox app; its fakes are ``app.ctx.gestaods``, ``app.ctx.zapi`` and ``app.ctx.meta``.

    Credentials come from ``settings`` (the sandbox constants unless overridden), so the clients
    built from the same settings are accepted. Sanic 21.12 wants unique app names per process:
    tests that build several apps pass their own ``name``.
    """
    settings = settings or get_settings()
    app = Sanic(name)
    app.ctx.gestaods = FakeGestaoDS(settings.gestaods_token, settings.clinic_tz, today=today)
    app.ctx.zapi = FakeZapi(
        settings.zapi_instance_id, settings.zapi_instance_token, settings.zapi_client_token
    )
    app.blueprint(create_gestaods_blueprint(app.ctx.gestaods))
    app.blueprint(create_zapi_blueprint(app.ctx.zapi))
    app.ctx.meta = FakeMeta(settings.meta_phone_number_id, settings.meta_access_token)
    app.blueprint(create_meta_blueprint(app.ctx.meta))

    @app.get("/__sandbox/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    return app


class BackgroundServer:
    """Serves a Sanic app from a daemon thread with its own event loop, on a free loopback port.

    ``with BackgroundServer(app) as server: requests.get(server.url + "/…")``. The server runs
    the app's before/after start and stop listeners like ``app.run`` does.

    Sanic 21.12 recompiles some of its own methods when an app starts ("TouchUp"); starting a
    second app in the same process breaks that unless ``Sanic.test_mode`` is on, so this class,
    meant for tests and embedding, turns it on.
    """

    def __init__(self, app: Sanic, host: str = "127.0.0.1", port: int = 0) -> None:
        Sanic.test_mode = True
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"sanic-{app.name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.app.name} did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"{self.app.name} failed to start") from self._error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(self._start())
        except BaseException as error:  # reported to the starting thread by start()
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown(server))
        loop.close()

    async def _start(self) -> AsyncioServer:
        # Sanic 21.12 already listens once create_server returns; start() waits for the listeners.
        server = await self.app.create_server(
            sock=self._sock, return_asyncio_server=True, access_log=False
        )
        if server is None:
            raise RuntimeError("Sanic returned no server")
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    async def _shutdown(self, server: AsyncioServer) -> None:
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def _log_to_stderr(log: logging.Logger) -> None:
    """Our loggers to stderr; Sanic keeps its own handlers (a root handler would log twice)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sandbox fakes of GestãoDS and Z-API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT)
    args = parser.parse_args(argv)
    if is_production():
        raise SystemExit("the sandbox fakes never run with APP_ENV=production")
    _log_to_stderr(logging.getLogger("clinicbot"))
    app = create_sandbox_app()
    logger.info("sandbox on http://%s:%d", args.host, args.port)
    app.run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
