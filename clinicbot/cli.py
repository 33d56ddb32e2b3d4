"""Command line: ``python -m clinicbot.cli run`` starts the whole assistant (``make run``);
``python -m clinicbot.cli outbox resend --id N | --phone P | --all-dead`` puts messages the
outbox gave up on back in its queue; ``backup [--output DIR]`` and ``restore FILE
--database-url URL`` back the database up and load a backup (:mod:`clinicbot.services.backups`);
``api-keys create|list|revoke`` manages the public API's keys; ``clinics …`` manages the clinics
(:mod:`clinicbot.tenancy.cli`)."""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import sys
import threading

from clinicbot.api.keys import InvalidScopes, create_key, list_keys, revoke_key
from clinicbot.db.engine import session_scope
from clinicbot.logs import configure_logging
from clinicbot.services.backups.commands import add_commands as add_backup_commands
from clinicbot.settings import SANDBOX_PORT, get_settings
from clinicbot.stack import PR_SET_PDEATHSIG, Ports, Stack
from clinicbot.tenancy import cli as clinics_cli
from clinicbot.whatsapp.outbox import resend_dead


def stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP (Ctrl-C, a process manager, a closed terminal, `make`
    dying) all stop the assistant in order, during start-up too: no child is left behind.
    Signals that arrive while it is stopping are ignored."""
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    if sys.platform.startswith("linux"):  # our parent (make) dies: we get SIGTERM
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run(args: argparse.Namespace) -> int:
    stop_on_signals()
    stack = Stack(
        ports=Ports(
            rasa=args.rasa_port,
            actions=args.actions_port,
            service=args.service_port,
            sandbox=args.sandbox_port,
        )
    )
    settings = stack.settings()
    print("Starting the assistant (the rasa server takes ~40 s to load the model)…", flush=True)
    try:
        stack.start()
    except KeyboardInterrupt:
        stack.stop()
        return 130
    except (RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    service = f"http://127.0.0.1:{args.service_port}"
    lines = [
        "",
        "The assistant is running.",
        f"  Z-API webhook : http://127.0.0.1:{args.rasa_port}/webhooks/zapi/webhook",
        f"  Health        : {service}/health/detailed",
    ]
    if settings.uses_sandbox_zapi:
        lines.append(f"  Simulator     : {service}/simulator   <- chat with the assistant here")
    lines += [
        "  GestãoDS      : " + ("sandbox" if settings.uses_sandbox_gestaods else "real API"),
        "  Z-API         : " + ("sandbox" if settings.uses_sandbox_zapi else "real API"),
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)
    try:
        code = stack.supervise(threading.Event())
    except KeyboardInterrupt:
        code = 0
    print("\nStopping…", flush=True)
    stack.stop()
    return code


def resend(args: argparse.Namespace) -> int:
    """Dead outbox rows back in the queue (the running delivery worker picks them up)."""
    with session_scope() as session:
        resent = resend_dead(session, outbox_id=args.id, phone=args.phone)
    print(f"{len(resent.requeued)} message(s) back in the queue: {resent.requeued}")
    if resent.too_late:
        print(f"{len(resent.too_late)} left dead, past their deliver-by time: {resent.too_late}")
    return 0


def api_keys(args: argparse.Namespace) -> int:
    """Create (printed once), list or revoke the public API's keys of one clinic."""
    with session_scope() as session:
        if args.keys_command == "create":
            try:
                created = create_key(
                    session,
                    name=args.name,
                    scopes=args.scopes,
                    clinic_id=args.clinic_id,
                    rate_limit_per_minute=args.rate_limit,
                )
            except InvalidScopes as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(f"key {created.id} ({','.join(created.scopes)}): {created.key}")
            print("Store it now: it is not shown again.")
            return 0
        if args.keys_command == "list":
            for key in list_keys(session, clinic_id=args.clinic_id):
                state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
                used = key["last_used_at"] or "never"
                scopes = ",".join(key["scopes"])
                print(f"{key['id']}\t{key['prefix']}\t{scopes}\t{state}\tlast used {used}")
            return 0
        if not revoke_key(session, args.id, clinic_id=args.clinic_id):
            print(f"error: clinic {args.clinic_id} has no key {args.id}", file=sys.stderr)
            return 1
        print(f"key {args.id} revoked")
        return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging(get_settings())
    parser = argparse.ArgumentParser(prog="clinicbot")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start every process of the assistant")
    run_parser.add_argument("--rasa-port", type=int, default=5005)
    run_parser.add_argument("--actions-port", type=int, default=5055)
    run_parser.add_argument("--service-port", type=int, default=8000)
    run_parser.add_argument("--sandbox-port", type=int, default=SANDBOX_PORT)
    run_parser.set_defaults(handler=run)
    outbox_parser = commands.add_parser("outbox", help="the outbox of WhatsApp messages")
    outbox_commands = outbox_parser.add_subparsers(dest="outbox_command", required=True)
    resend_parser = outbox_commands.add_parser(
        "resend", help="put dead messages back in the queue, with a fresh retry budget"
    )
    which = resend_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the outbox message with this id")
    which.add_argument("--phone", help="every dead message to this phone")
    which.add_argument("--all-dead", action="store_true", help="every dead message")
    resend_parser.set_defaults(handler=resend)
    add_backup_commands(commands)
    keys_parser = commands.add_parser("api-keys", help="the public API's keys")
    keys_parser.add_argument("--clinic-id", type=int, default=1)
    keys_commands = keys_parser.add_subparsers(dest="keys_command", required=True)
    create_parser = keys_commands.add_parser("create", help="a new key, printed once")
    create_parser.add_argument("--name", required=True)
    create_parser.add_argument("--scopes", default="read", help="comma-separated: read,write,admin")
    create_parser.add_argument("--rate-limit", type=int, help="requests per minute")
    keys_commands.add_parser("list", help="the clinic's keys (never the keys themselves)")
    revoke_parser = keys_commands.add_parser("revoke", help="revoke a key at once")
    revoke_parser.add_argument("id", type=int)
    keys_parser.set_defaults(handler=api_keys)
    clinics_cli.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
