"""``python -m clinicbot.cli clinics …`` against a real (SQLite) database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.settings import PROJECT_ROOT, read_settings
from clinicbot.tenancy.registry import clinic_for_staff_token


def _cli(database: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinicbot.cli", "clinics", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database, "PYTHONPATH": str(PROJECT_ROOT), **env},
    )


def test_add_list_show_disable(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'clinics.db'}"
    upgrade_to_head(database)
    added = _cli(
        database,
        "add",
        "sul",
        "--name",
        "Clínica Sul",
        "--zapi-instance-id",
        "SUL1",
        "--zapi-instance-token-env",
        "SUL_ZAPI_TOKEN",
        "--faq-file",
        str(PROJECT_ROOT / "clinic.yml"),
        SUL_ZAPI_TOKEN="sul-secret-token",
    )
    assert added.returncode == 0, added.stderr
    assert "added with id 2" in added.stdout and "staff token" in added.stdout
    assert "sul-secret-token" not in added.stdout

    shown = _cli(database, "show", "sul")
    assert shown.returncode == 0, shown.stderr
    config = json.loads(shown.stdout)
    assert config["zapi_instance_token"] == "set" and config["gestaods_token"] == "unset"
    assert config["faq"] == "stored" and "sul-secret-token" not in shown.stdout

    old_token = added.stdout.rsplit(": ", 1)[1].strip()
    renewed = _cli(database, "staff-token", "sul")
    assert renewed.returncode == 0, renewed.stderr
    new_token = renewed.stdout.splitlines()[-1]
    engine = make_engine(database)
    with session_scope(engine) as session:
        assert clinic_for_staff_token(session, old_token, read_settings()) is None
        assert clinic_for_staff_token(session, new_token, read_settings()) == 2
    engine.dispose()
    assert _cli(database, "staff-token", "default").returncode == 1

    assert _cli(database, "disable", "sul").returncode == 0
    listed = _cli(database, "list").stdout.splitlines()
    assert listed[0].split("\t")[:3] == ["1", "default", "active"]
    assert listed[1].split("\t")[:3] == ["2", "sul", "disabled"]
    assert _cli(database, "show", "nowhere").returncode == 1
    missing = _cli(database, "add", "x", "--name", "X", "--gestaods-token-env", "UNSET_VAR_X")
    assert missing.returncode != 0 and "UNSET_VAR_X" in missing.stderr
