"""deploy/prometheus: the alert rules parse and name only metrics the assistant exports (with
labels it sets); promtool, when installed, checks the PromQL and plays two alerts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import clinicbot.alerts
import clinicbot.monitoring
import clinicbot.web.metrics
from clinicbot.settings import PROJECT_ROOT

PROMETHEUS = PROJECT_ROOT / "deploy" / "prometheus"
METRIC = re.compile(r"\b(clinicbot_[a-z_]+)(\{[^}]*\})?")
LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
# Modules defining the metrics each process exports (imported for their registrations).
EXPORTERS = (clinicbot.alerts, clinicbot.monitoring, clinicbot.web.metrics)


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported() -> dict[str, tuple[str, ...]]:
    """Every metric name the registry exposes (counters with ``_total``) → its label names."""
    names: dict[str, tuple[str, ...]] = {}
    for name, collector in REGISTRY._names_to_collectors.items():
        names[name] = tuple(getattr(collector, "_labelnames", ()))
    return names


def test_every_alert_is_complete() -> None:
    found = rules()
    assert len(found) >= 8
    for rule in found:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
    names = {rule["alert"] for rule in found}
    assert len(names) == len(found)
    assert {"ZapiDisconnected", "GestaoDSCircuitOpen", "DeadLetters", "BackupTooOld"} <= names


def test_every_metric_and_label_in_the_alerts_exists() -> None:
    metrics = exported()
    for rule in rules():
        used = METRIC.findall(rule["expr"])
        assert used, f"{rule['alert']} names no clinicbot metric"
        for name, selector in used:
            assert name in metrics, f"{rule['alert']}: {name} is not exported"
            for label in LABEL.findall(selector):
                assert label in metrics[name], f"{rule['alert']}: {name} has no label {label}"


def test_the_scrape_config_covers_every_process() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"clinic_service", "rasa", "action_server"}
    assert jobs["rasa"]["metrics_path"] == "/webhooks/zapi/metrics"


PROMTOOL_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'clinicbot_dependency_up{{component="zapi"}}'
        values: '1 1 0 0 0 0 0 0 0 0'
      - series: 'clinicbot_dead_letters_total{{kind="outbox", channel="zapi"}}'
        values: '0 0 0 1 1 1'
    alert_rule_test:
      - eval_time: 3m
        alertname: ZapiDisconnected
        exp_alerts: []
      - eval_time: 9m
        alertname: ZapiDisconnected
        exp_alerts:
          - exp_labels: {{severity: critical, component: zapi}}
            exp_annotations:
              summary: "Z-API instance disconnected: patients' messages are not answered"
              description: "Reconnect the clinic's phone in the Z-API panel (scan the QR code)."
      - eval_time: 4m
        alertname: DeadLetters
        exp_alerts:
          - exp_labels: {{severity: warning, kind: outbox, channel: zapi}}
            exp_annotations:
              summary: "Messages given up on (outbox, zapi)"
              description: "Resend: python -m clinicbot.cli outbox resend --all-dead"
"""


def test_promtool_accepts_the_rules_and_the_alerts_fire(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(PROMTOOL_TESTS.format(rules=PROMETHEUS / "alerts.yml"), encoding="utf-8")
    played = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert played.returncode == 0, played.stdout + played.stderr
