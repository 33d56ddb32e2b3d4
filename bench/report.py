"""What every bench report shares: the stamp (commit, date, machine) and ``percentile``.

A report is only worth reading next to the code it measured, so each one starts with the commit,
whether the working tree had uncommitted changes (other than the bench reports themselves), and
the machine it ran on. The stamp is taken when the run starts, since that is the code that was
loaded; if the working tree differs when the report is written, the header says so.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The reports (and their plots) are written by the runs themselves: they must not mark the
# tree as changed.
REPORTS_PATHSPEC = ":(exclude)bench/*report*"
MAX_LISTED_CHANGES = 12


def _git(*args: str) -> str:
    """Output of a git command in the project, or "" when git or the repository is missing."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout


def _changed_paths() -> tuple[str, ...]:
    """Paths ``git status --porcelain`` lists (modified, added, untracked), reports excluded."""
    lines = _git(
        "status", "--porcelain", "--untracked-files=all", "--", ".", REPORTS_PATHSPEC
    ).splitlines()
    return tuple(line[3:] for line in lines if line.strip())


def _file_digests() -> dict[str, str]:
    """A content hash per tracked or untracked (not ignored) file, reports excluded: comparing
    two of these tells whether the code changed between them, whatever was committed meanwhile."""
    listed = _git(
        "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".", REPORTS_PATHSPEC
    )
    digests = {}
    for path in filter(None, listed.split("\0")):
        try:
            digests[path] = hashlib.sha1((PROJECT_ROOT / path).read_bytes()).hexdigest()
        except OSError:  # deleted in the working tree, or a directory (submodule)
            digests[path] = "missing"
    return digests


@dataclass(frozen=True)
class Stamp:
    """The code and the machine state at the start of a run."""

    commit: str
    changes: tuple[str, ...]
    files: dict[str, str]
    started: datetime
    load: tuple[float, float, float]

    @classmethod
    def capture(cls) -> Stamp:
        return cls(
            commit=_git("rev-parse", "--short", "HEAD").strip() or "unknown (no git)",
            changes=_changed_paths(),
            files=_file_digests(),
            started=datetime.now(timezone.utc),
            load=os.getloadavg(),
        )


def command_line(module: str, args: Sequence[str]) -> str:
    """The command that produced a report, as a reader would type it."""
    return " ".join(["python -m", module, *(shlex.quote(arg) for arg in args)])


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile by linear interpolation between closest ranks (numpy's default
    method); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _listed(paths: Sequence[str]) -> str:
    shown = ", ".join(f"`{path}`" for path in paths[:MAX_LISTED_CHANGES])
    more = len(paths) - MAX_LISTED_CHANGES
    return shown + (f" and {more} more" if more > 0 else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _version(package: str) -> str:
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return f"{package} not installed"


def header_lines(
    stamp: Stamp,
    command: str,
    packages: Sequence[str] = ("rasa",),
    extra: Sequence[str] = (),
) -> list[str]:
    """Markdown bullets: commit, date, command, machine, versions, then ``extra`` lines."""
    commit = f"`{stamp.commit}`"
    if stamp.changes:
        commit += f" + uncommitted changes in {_listed(stamp.changes)}"
    else:
        commit += ", no uncommitted changes"
    now = _file_digests()
    edited = sorted(
        path for path in now.keys() | stamp.files.keys() if now.get(path) != stamp.files.get(path)
    )
    if edited:
        commit += f"; **files changed while it ran**: {_listed(edited)}"
    load = " / ".join(f"{value:.2f}" for value in stamp.load)
    load_now = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    versions = ", ".join(_version(package) for package in packages)
    return [
        f"- Commit: {commit}",
        f"- Date: {stamp.started:%Y-%m-%d %H:%M} UTC; command: `{command}`",
        f"- Machine: {os.cpu_count()} CPU(s) ({_cpu_model()}), {_ram()}, "
        f"{platform.platform()}; load average (1/5/15 min) {load} at the start, {load_now} at "
        "the end",
        f"- Python {platform.python_version()}" + (f"; {versions}" if versions else ""),
        *extra,
    ]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
