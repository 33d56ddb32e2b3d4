"""`make run` refuses to report "running" when rasa cannot load its model (it would drop
every message)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from clinicbot.stack import Ports, Stack
from tests.support.stack import free_port


def test_a_model_rasa_cannot_load_stops_the_start(tmp_path: Path):
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(broken, "w:gz"):
        pass  # an empty archive: no model metadata inside
    stack = Stack(
        ports=Ports(
            rasa=free_port(), actions=free_port(), service=free_port(), sandbox=free_port()
        ),
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'clinicbot.db'}"},
        log_dir=tmp_path,
        model=broken,
    )
    with pytest.raises(RuntimeError, match="model"):
        stack.start(timeout=180)
    assert all(s.process is None or s.process.poll() is not None for s in stack.services)
