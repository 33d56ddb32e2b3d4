"""The clinicbot command line as an operator runs it: a separate process, its own environment."""

from __future__ import annotations

import os
import subprocess
import sys

from clinicbot.settings import PROJECT_ROOT


def cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": database_url,
        "BACKUP_S3_BUCKET": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "clinicbot.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
