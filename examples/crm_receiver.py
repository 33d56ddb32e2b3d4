"""An example CRM endpoint for the clinic assistant's webhooks (standard library only).

It does what every receiver must:

1. verify ``X-Clinicbot-Signature`` (``v1=`` + hex HMAC-SHA256 of ``"<timestamp>.<raw body>"``
   with the subscription's secret) in constant time, over the raw body as received;
2. refuse a ``X-Clinicbot-Timestamp`` more than 5 minutes away from now (a captured delivery
   replayed later is refused even with its valid signature);
3. de-duplicate on the event id (``X-Clinicbot-Event-Id``): a retry or a replay of an event it
   already processed is acknowledged (2xx) and not processed again;
4. answer 2xx quickly; anything else makes the assistant retry with backoff.

Run it with ``python examples/crm_receiver.py --port 9000 --secret whsec_…`` (or the secret in
``CRM_WEBHOOK_SECRET``); it prints each new event as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60
MAX_BODY = 1024 * 1024


class Rejected(Exception):
    """Why a delivery was refused (answered 400/401)."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The delivered event, once its signature and timestamp are checked; raises Rejected."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get("x-clinicbot-timestamp", "")
    signature = lowered.get("x-clinicbot-signature", "")
    if not timestamp.isdigit() or not signature.startswith("v1="):
        raise Rejected("missing or malformed signature headers")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise Rejected("timestamp outside the 5-minute window (a replay?)")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest(signature.removeprefix("v1="), expected.hexdigest()):
        raise Rejected("bad signature")
    event: dict[str, Any] = json.loads(body)
    if event.get("id") != lowered.get("x-clinicbot-event-id"):
        raise Rejected("event id header and body disagree")
    return event


class Receiver:
    """Verified, de-duplicated events go to ``on_event``; ``received`` keeps them in order."""

    def __init__(self, secret: str, on_event: Callable[[dict[str, Any]], None] | None = None):
        self.secret = secret
        self.on_event = on_event
        self.received: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        try:
            event = verify(self.secret, headers, body)
        except (Rejected, ValueError) as error:
            with self._lock:
                self.rejected.append(str(error))
            return 401, str(error)
        with self._lock:
            if event["id"] in self._seen:
                return 200, "duplicate, already processed"
            self._seen.add(event["id"])
            self.received.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return 200, "ok"

    def server(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._answer(413, "too large")
                    return
                status, text = receiver.handle(dict(self.headers.items()), self.rfile.read(length))
                self._answer(status, text)

            def _answer(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Example receiver of the assistant's webhooks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=os.environ.get("CRM_WEBHOOK_SECRET", ""))
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("--secret (or CRM_WEBHOOK_SECRET) is required")

    def show(event: dict[str, Any]) -> None:
        print(json.dumps(event, ensure_ascii=False), flush=True)

    server = Receiver(args.secret, show).server(args.host, args.port)
    print(f"listening on http://{args.host}:{server.server_address[1]}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
