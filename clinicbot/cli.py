"""Command line: ``python -m clinicbot.cli run`` starts the whole assistant (``make run``)."""

from __future__ import annotations

import argparse
import logging
import sys

from clinicbot.stack import Ports, Stack


def run(args: argparse.Namespace) -> int:
    stack = Stack(ports=Ports(rasa=args.rasa_port, service=args.service_port))
    settings = stack.settings()
    print("Starting the assistant (the rasa server takes ~40 s to load the model)…", flush=True)
    try:
        stack.start()
    except KeyboardInterrupt:
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
        return stack.wait()
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="clinicbot")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start every process of the assistant")
    run_parser.add_argument("--rasa-port", type=int, default=5005)
    run_parser.add_argument("--service-port", type=int, default=8000)
    run_parser.set_defaults(handler=run)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
