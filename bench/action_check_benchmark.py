"""CPU time of Rasa's check of a custom action's answer, stock ``jsonschema.validate`` against
:mod:`clinicbot.rasa.schema_checks` (the schema checked once), in one run.

``python -m bench.action_check_benchmark`` writes ``bench/action_check_report.md``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction

from bench.report import Stamp, command_line, header_lines
from clinicbot.rasa import schema_checks

REPORT = Path(__file__).parent / "action_check_report.md"
ROUNDS = 7
CALLS = 30
# A typical answer of the booking form's validation: a few slots and one message.
ANSWER: dict[str, Any] = {
    "events": [{"event": "slot", "name": f"slot_{n}", "value": "x"} for n in range(5)],
    "responses": [{"text": "Qual dia fica melhor para você?", "buttons": []}],
}


def cpu_ms_per_call(action: RemoteAction) -> list[float]:
    """Per round, the mean CPU milliseconds of one ``_validate_action_result``."""
    action._validate_action_result(ANSWER)  # warm-up (and the one schema check when cached)
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            action._validate_action_result(ANSWER)
        rounds.append((time.process_time() - started) / CALLS * 1000)
    return rounds


def main(argv: list[str]) -> None:
    stamp = Stamp.capture()
    action = RemoteAction("action_benchmark", None)
    stock = cpu_ms_per_call(action)  # jsonschema's own validate
    original = jsonschema.validate
    schema_checks.install()
    try:
        cached = cpu_ms_per_call(action)
    finally:
        jsonschema.validate = original
    stock_ms, cached_ms = statistics.median(stock), statistics.median(cached)
    lines = [
        "# Checking custom action answers: stock jsonschema vs the schema checked once",
        "",
        *header_lines(
            stamp, command_line("bench.action_check_benchmark", argv), ("rasa", "jsonschema")
        ),
        "",
        "## Method",
        "",
        f"- `RemoteAction._validate_action_result` (what Rasa runs on every answer of the action "
        f"server) on one answer of {len(ANSWER['events'])} slot events and one message; "
        f"{ROUNDS} rounds of {CALLS} calls, CPU time (`time.process_time`), median of the "
        "round means.",
        "- **stock**: `jsonschema.validate`, which checks the schema against its meta-schema on "
        "every call; **cached**: after `clinicbot.rasa.schema_checks.install()` (what the "
        "WhatsApp connectors do when rasa starts).",
        "",
        "## Result",
        "",
        "| | CPU ms per answer (median) | min | max |",
        "|---|---|---|---|",
        f"| stock | {stock_ms:.2f} | {min(stock):.2f} | {max(stock):.2f} |",
        f"| cached | {cached_ms:.2f} | {min(cached):.2f} | {max(cached):.2f} |",
        "",
        f"The cached check takes {stock_ms / cached_ms:.1f}× less CPU per custom action "
        f"answer ({stock_ms - cached_ms:.1f} ms saved per answer).",
        "",
    ]
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
