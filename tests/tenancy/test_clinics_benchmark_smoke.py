"""The clinics benchmark runs (a tiny run: 1 and 2 clinics, 20 patients); the real run is
``make bench-clinics`` (bench/clinics_report.md)."""

from __future__ import annotations

from pathlib import Path

from bench.clinics_benchmark import main


def test_the_clinics_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    output = tmp_path / "clinics_report.md"
    assert main(["--quick", "--output", str(output)]) == 0
    report = output.read_text(encoding="utf-8")
    assert "| 1 | 20 |" in report and "| 2 | 10 |" in report
