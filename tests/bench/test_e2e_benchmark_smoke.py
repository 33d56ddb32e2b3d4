"""``make bench``'s harness runs: one patient, one conversation, the project's stack only.

Only that the harness works and its report carries the numbers; the figures themselves are
the benchmark's business (bench/e2e_report.md), not a test's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import e2e_benchmark
from bench.conversations import FULL_CONVERSATION
from clinicbot.stack import MODEL_PATH

pytestmark = pytest.mark.integration


def test_one_patient_holds_the_whole_conversation_and_the_report_says_so(tmp_path: Path):
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    report, plot = tmp_path / "report.md", tmp_path / "latency.png"

    e2e_benchmark.main(
        [
            "--no-train",
            "--levels",
            "1",
            "--configs",
            "project-sqlite",
            "--no-profile",
            "--report",
            str(report),
            "--plot",
            str(plot),
        ]
    )

    text = report.read_text(encoding="utf-8")
    sent = len(FULL_CONVERSATION)
    # patients | sent | answered | wrong | lost | msgs/s | p50 | p95 | p99 | wall
    row = re.search(rf"^\| 1 \| {sent} \| {sent} \| 0 \| 0 \|(?P<rest>.*)\|$", text, re.M)
    assert row, text
    figures = [cell.strip() for cell in row["rest"].split("|")]
    assert all(re.fullmatch(r"[\d,.]+", cell) for cell in figures), figures
    startup = re.search(
        r"^\| project, SQLite \| – \| (?P<ready>[\d.]+) \| (?P<rss>[\d,]+) \|", text, re.M
    )
    assert startup, text
    assert plot.stat().st_size > 0
