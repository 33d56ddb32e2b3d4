"""Fail when `rasa test nlu` on the held-out set scores below the repo's quality gates.

Usage: ``python -m tests.nlu.gates RESULTS_DIR [GATES_YML]`` after
``rasa test nlu --out RESULTS_DIR``; prints every figure with its gate, exits 1 on any miss.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_GATES = Path(__file__).resolve().parent / "quality_gates.yml"


def measured(results: Path) -> dict[str, float]:
    """The gated figures from the reports `rasa test nlu` wrote into ``results``."""
    intents: dict[str, Any] = json.loads((results / "intent_report.json").read_text())
    per_intent = [
        report["f1-score"]
        for name, report in intents.items()
        if isinstance(report, dict) and "avg" not in name
    ]
    entity_reports = sorted(results.glob("*Extractor_report.json"))
    if not entity_reports:
        raise FileNotFoundError(f"no entity extractor report in {results}")
    entities: dict[str, Any] = json.loads(entity_reports[0].read_text())
    return {
        "intent_macro_f1": intents["macro avg"]["f1-score"],
        "intent_min_f1": min(per_intent),
        "entity_micro_f1": entities["micro avg"]["f1-score"],
    }


def misses(figures: dict[str, float], gates: dict[str, float]) -> list[str]:
    """One line per gate: ``ok`` or ``BELOW``."""
    lines = []
    for name, minimum in gates.items():
        value = figures[name]
        verdict = "ok" if value >= minimum else "BELOW"
        lines.append(f"{verdict:5} {name} = {value:.3f} (gate {minimum:.3f})")
    return lines


def main(argv: list[str]) -> int:
    results = Path(argv[0])
    gates_file = Path(argv[1]) if len(argv) > 1 else DEFAULT_GATES
    gates = {name: float(value) for name, value in yaml.safe_load(gates_file.read_text()).items()}
    lines = misses(measured(results), gates)
    print("NLU quality gates (held-out set):")
    print("\n".join(f"  {line}" for line in lines))
    return 1 if any(line.startswith("BELOW") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
