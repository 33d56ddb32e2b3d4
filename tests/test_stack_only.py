"""``Stack(only=...)``: part of a stack, e.g. one more rasa instance (with its action server)
beside a running one, on that stack's clinic service and sandbox (bench/scale_benchmark.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from clinicbot.stack import Ports, Stack
from tests.support.stack import SANDBOX_ONLY_ENV


def test_a_stack_starts_only_the_processes_it_is_given(tmp_path: Path) -> None:
    full = Stack(ports=Ports(15005, 15055, 18000, 18088), env=SANDBOX_ONLY_ENV, log_dir=tmp_path)
    assert [s.name for s in full.plan(tmp_path)] == ["sandbox", "actions", "rasa", "service"]

    extra = Stack(
        ports=Ports(rasa=15006, actions=15056, service=18000, sandbox=18088),
        env=SANDBOX_ONLY_ENV,
        log_dir=tmp_path,
        only=frozenset({"actions", "rasa"}),
    )
    plan = extra.plan(tmp_path)
    assert [s.name for s in plan] == ["actions", "rasa"]
    rasa = plan[1].argv
    assert rasa[rasa.index("--port") + 1] == "15006"
    endpoints = yaml.safe_load(Path(rasa[rasa.index("--endpoints") + 1]).read_text())
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:15056/webhook"
    assert endpoints["nlg"]["url"] == "http://127.0.0.1:18000/nlg"  # the shared clinic service
    assert extra.child_env()["GESTAODS_BASE_URL"] == "http://127.0.0.1:18088"  # shared sandbox
