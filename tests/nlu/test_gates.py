"""The held-out NLU gates: the figures `rasa test nlu` reports, checked against the repo's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nlu.gates import DEFAULT_GATES, main, measured


def write_reports(results: Path, intent_f1: dict[str, float], entity_micro_f1: float) -> None:
    intents = {name: {"f1-score": f1, "support": 10} for name, f1 in intent_f1.items()}
    intents["macro avg"] = {"f1-score": sum(intent_f1.values()) / len(intent_f1)}
    intents["weighted avg"] = {"f1-score": 0.0}
    intents["accuracy"] = 0.0
    (results / "intent_report.json").write_text(json.dumps(intents))
    entities = {"cpf": {"f1-score": 1.0}, "micro avg": {"f1-score": entity_micro_f1}}
    (results / "ClinicEntityExtractor_report.json").write_text(json.dumps(entities))


def test_reads_the_gated_figures(tmp_path: Path) -> None:
    write_reports(tmp_path, {"saudacao": 1.0, "afirmar": 0.9}, entity_micro_f1=0.98)
    assert measured(tmp_path) == {
        "intent_macro_f1": pytest.approx(0.95),
        "intent_min_f1": 0.9,
        "entity_micro_f1": 0.98,
    }


def test_todays_quality_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_reports(tmp_path, {"saudacao": 0.99, "afirmar": 0.98}, entity_micro_f1=1.0)
    assert main([str(tmp_path), str(DEFAULT_GATES)]) == 0
    assert "BELOW" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("intent_f1", "entity_micro_f1", "failing"),
    [
        ({"saudacao": 0.93, "afirmar": 0.93}, 1.0, "intent_macro_f1"),
        ({"saudacao": 1.0, "afirmar": 1.0, "negar": 1.0, "parar": 0.80}, 1.0, "intent_min_f1"),
        ({"saudacao": 0.99, "afirmar": 0.99}, 0.90, "entity_micro_f1"),
    ],
)
def test_a_degraded_model_fails(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    intent_f1: dict[str, float],
    entity_micro_f1: float,
    failing: str,
) -> None:
    write_reports(tmp_path, intent_f1, entity_micro_f1)
    assert main([str(tmp_path)]) == 1
    assert f"BELOW {failing}" in capsys.readouterr().out
