"""Whole WhatsApp conversations under load: this project against stock Rasa, in one run.

Run from the project root: ``.venv/bin/python -m bench.e2e_benchmark`` (``make bench``;
``--quick`` or ``BENCH_QUICK=1`` for a reduced run). Writes ``bench/e2e_report.md`` and
``bench/e2e_latency.png``, stamped with the commit and the machine (:mod:`bench.report`).

Two models are trained from the same domain, data and actions, and each timed:

- **project**: ``config.yml`` (the project's NLU components, memoisation and rules);
- **baseline**: what ``rasa init`` writes, an empty pipeline and policies, which Rasa fills with
  its defaults (DIET, ResponseSelector, Memoization, Rule, UnexpecTED and TED policies).

Each model then serves a whole stack (:func:`tests.support.stack.sandbox_stack`: sandbox
GestãoDS and Z-API, action server, clinic service; SQLite, or PostgreSQL and Redis), one stack at
a time. Simulated patients (:mod:`bench.conversations`) hold the full conversation (greeting,
price question, booking with CPF, cancelling it) through the Z-API webhook, 1, 4, 8, 16 and 32
at once, each message after the answer to the previous one. Per level: answered messages per
second (wall time from the first message to the last answer), reply percentiles (POST to the
fake Z-API's delivery), errors (wrong or missing answers). Per stack: rasa's time from spawn to
``/status`` ready, its resident memory once ready and at its peak, whether TensorFlow is mapped
into it; optionally (``--profile``, with py-spy installed) where the project's rasa spends its
CPU at 16 patients.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.conversations import (
    FULL_CONVERSATION,
    REPLY_TIMEOUT,
    DeliveredLog,
    Exchange,
    Patient,
    phone_numbers,
    progress,
    run_lanes,
    sandbox_agenda,
)
from bench.report import PROJECT_ROOT, Stamp, command_line, header_lines, percentile, table
from clinicbot.stack import MODEL_PATH, Service
from tests.support.stack import sandbox_stack

REPORT_PATH = Path(__file__).with_name("e2e_report.md")
PLOT_PATH = Path(__file__).with_name("e2e_report_latency.png")
RASA = Path(sys.executable).parent / "rasa"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
# A Redis database of its own: the stacks' availability cache and locks stay out of others' way.
REDIS_URL = "redis://127.0.0.1:6379/11"
FULL_LEVELS = (1, 4, 8, 16, 32)
QUICK_LEVELS = (1, 4, 16)
TARGET_LEVEL = 16
SETTLE_SECONDS = 2.0
PROFILE_SECONDS = 20
# What `rasa init` writes: Rasa fills an empty pipeline and policies with its defaults.
BASELINE_CONFIG = {
    "recipe": "default.v1",
    "assistant_id": "baseline",
    "language": "pt",
    "pipeline": None,
    "policies": None,
}
TRAIN_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


@dataclass(frozen=True)
class Targets:
    """Issue 15's targets for the project at :data:`TARGET_LEVEL` patients."""

    speedup: float = 3.0
    p95_ms: float = 250.0
    ready_s: float = 15.0
    rss_mb: float = 600.0
    train_s: float = 60.0


TARGETS = Targets()


@dataclass(frozen=True)
class StackConfig:
    name: str  # "project-sqlite", ...
    model: str  # "project" or "baseline"
    database: str  # "sqlite" or "postgresql"

    @property
    def label(self) -> str:
        storage = "SQLite" if self.database == "sqlite" else "PostgreSQL + Redis"
        return f"{self.model}, {storage}"


CONFIGS = {
    config.name: config
    for config in (
        StackConfig("project-sqlite", "project", "sqlite"),
        StackConfig("baseline-sqlite", "baseline", "sqlite"),
        StackConfig("project-pg", "project", "postgresql"),
        StackConfig("baseline-pg", "baseline", "postgresql"),
    )
}


@dataclass(frozen=True)
class Options:
    levels: tuple[int, ...]
    conversations: int  # per simulated patient and level
    configs: tuple[str, ...]
    train: bool
    profile: bool
    report: Path
    plot: Path | None
    keep: bool
    # A baseline model trained by an earlier run (its 30-odd minutes of training not repeated).
    baseline_model: Path | None = None


@dataclass
class Level:
    patients: int
    wall_s: float
    exchanges: list[Exchange]

    @property
    def answered(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.answered]

    @property
    def errors(self) -> list[Exchange]:
        return [e for e in self.exchanges if not e.answered]

    @property
    def lost(self) -> int:
        return sum(e.error == "lost" for e in self.errors)

    @property
    def rate(self) -> float:
        return len(self.answered) / self.wall_s if self.wall_s else math.nan

    def reply(self, q: float) -> float:
        return percentile([e.reply_ms for e in self.answered if e.reply_ms is not None], q)


@dataclass
class StackRun:
    config: StackConfig
    ready_s: float = math.nan
    rss_ready_mb: float = math.nan
    rss_peak_mb: float = math.nan
    tensorflow: bool | None = None
    levels: list[Level] = field(default_factory=list)
    profile: list[tuple[float, str]] = field(default_factory=list)
    log_problems: int = 0

    def level(self, patients: int) -> Level | None:
        return next((level for level in self.levels if level.patients == patients), None)


@dataclass
class Results:
    options: Options
    stamp: Stamp
    command: str
    train_s: dict[str, float] = field(default_factory=dict)
    runs: list[StackRun] = field(default_factory=list)
    runtime_s: float = 0.0

    def run(self, name: str) -> StackRun | None:
        return next((run for run in self.runs if run.config.name == name), None)


# --- training ------------------------------------------------------------------------------


def train(model: str, out: Path) -> tuple[Path, float]:
    """Train ``model`` ("project" or "baseline") into ``out``; (model file, seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    args = [str(RASA), "train", "--force", "--fixed-model-name", model, "--out", str(out)]
    if model == "baseline":
        config = out / "config.yml"
        config.write_text(yaml.safe_dump(BASELINE_CONFIG, sort_keys=False), encoding="utf-8")
        args += ["--config", str(config)]
    progress(f"training the {model} model (log in {out / 'train.log'})")
    began = time.monotonic()
    with (out / "train.log").open("wb") as log:
        subprocess.run(
            args,
            cwd=PROJECT_ROOT,
            env={**os.environ, **TRAIN_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return out / f"{model}.tar.gz", time.monotonic() - began


# --- one stack -----------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database on the shared PostgreSQL server, dropped afterwards."""
    name = f"clinicbot_bench_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of process ``pid``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def maps_tensorflow(pid: int) -> bool:
    """Whether TensorFlow's native library is mapped into process ``pid``."""
    return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")


def run_level(
    patients: int, conversations: int, rasa_url: str, sandbox_url: str, phones: Iterator[str]
) -> Level:
    """``patients`` lanes, each holding ``conversations`` conversations with fresh patients."""
    agenda = sandbox_agenda(sandbox_url)
    with DeliveredLog(sandbox_url) as delivered:
        lanes = [
            [
                Patient.register(agenda, next(phones), lane, rasa_url, delivered)
                for _ in range(conversations)
            ]
            for lane in range(patients)
        ]
        wall = run_lanes(lanes, FULL_CONVERSATION)
        time.sleep(SETTLE_SECONDS)  # let late deliveries drain before the next level
    return Level(patients, wall, [e for lane in lanes for p in lane for e in p.exchanges])


def profile_rasa(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start py-spy on rasa for ``seconds`` (None when py-spy is not installed)."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        progress("py-spy is not installed: no profile (pip install py-spy)")
        return None
    argv = [py_spy, "record", "-p", str(pid), "-r", "50", "-d", str(seconds), "-f", "raw"]
    return subprocess.Popen(
        [*argv, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


PROFILE_FRAME = re.compile(r"^(?P<function>\S+) \((?P<file>[^:)]+)(?::\d+)?\)$")
PROFILE_SHOWN = re.compile(
    r"^(clinicbot/|rasa/core/(processor|tracker_store|actions/action|policies/\w+)\.py|"
    r"jsonschema/validators|sqlalchemy/pool/base|rasa/utils/endpoints|rasa/core/nlg)"
)
IDLE_LEAF = re.compile(r"select \(selectors|epoll|wait \(threading|get \(queue|sleep")


def read_profile(path: Path, top: int = 14) -> list[tuple[float, str]]:
    """Inclusive share of rasa's busy samples per function (rasa's, the project's, the DB
    pool's and JSON schema validation), from py-spy's raw (collapsed) output."""
    if not path.exists():
        return []
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or IDLE_LEAF.search(frames[-1]):
            continue
        busy += int(count)
        seen = set()
        for frame in frames:
            match = PROFILE_FRAME.match(frame)
            if match is None:
                continue
            key = f"{match['file']}: {match['function']}"
            if key not in seen and PROFILE_SHOWN.match(match["file"]):
                seen.add(key)
                inclusive[key] += int(count)
    return [(100 * n / busy, key) for key, n in inclusive.most_common(top)] if busy else []


def count_log_problems(workdir: Path) -> int:
    problem = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
    return sum(
        bool(problem.search(line))
        for log in workdir.glob("*.log")
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
    )


def run_stack(config: StackConfig, model: Path, options: Options, workdir: Path) -> StackRun:
    """Start one stack, warm it up, run every level, measure rasa, stop it."""
    result = StackRun(config)
    with _storage(config.database) as env:
        stack = sandbox_stack(workdir, env)
        stack.model = model
        progress(f"{config.name}: starting the stack (logs in {workdir})")
        stack.start(timeout=600)
        try:
            rasa: Service = next(s for s in stack.services if s.name == "rasa")
            assert rasa.process is not None
            pid = rasa.process.pid
            result.ready_s = rasa.ready_after or math.nan
            result.rss_ready_mb, _ = memory_mb(pid)
            result.tensorflow = maps_tensorflow(pid)
            rasa_url = f"http://127.0.0.1:{stack.ports.rasa}"
            sandbox_url = f"http://127.0.0.1:{stack.ports.sandbox}"
            phones = phone_numbers()
            progress(f"{config.name}: warm-up conversation")
            run_level(1, 1, rasa_url, sandbox_url, phones)
            for patients in options.levels:
                spy = None
                if options.profile and patients == TARGET_LEVEL and config.model == "project":
                    spy = profile_rasa(pid, PROFILE_SECONDS, workdir / "profile.txt")
                progress(f"{config.name}: {patients} patient(s) x {options.conversations}")
                level = run_level(patients, options.conversations, rasa_url, sandbox_url, phones)
                result.levels.append(level)
                progress(
                    f"{config.name}: {patients} -> {level.rate:.1f} msg/s, "
                    f"p95 {level.reply(95):.0f} ms, {len(level.errors)} error(s)"
                )
                if spy is not None:
                    spy.wait()
                    result.profile = read_profile(workdir / "profile.txt")
            _, result.rss_peak_mb = memory_mb(pid)
        finally:
            stack.stop()
    result.log_problems = count_log_problems(workdir)
    return result


@contextmanager
def _storage(database: str) -> Iterator[dict[str, str]]:
    """The stack's environment for SQLite (its default) or PostgreSQL + Redis."""
    if database == "sqlite":
        yield {}
        return
    with postgres_database() as url:
        yield {"DATABASE_URL": url, "REDIS_URL": REDIS_URL}


def run(options: Options, command: str) -> Results:
    began = time.monotonic()
    results = Results(options, Stamp.capture(), command)
    workdir = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    keep = options.keep
    try:
        needed = {CONFIGS[name].model for name in options.configs}
        models: dict[str, Path] = {}
        for model in ("project", "baseline"):
            if model not in needed:
                continue
            if model == "baseline" and options.baseline_model is not None:
                models[model] = options.baseline_model
            elif options.train:
                models[model], results.train_s[model] = train(model, workdir / "models" / model)
            elif model == "project":
                models[model] = MODEL_PATH
            else:
                raise SystemExit("the baseline needs training: drop --no-train")
        for name in options.configs:
            config = CONFIGS[name]
            stack_dir = workdir / name
            stack_dir.mkdir()
            results.runs.append(run_stack(config, models[config.model], options, stack_dir))
    except BaseException:
        keep = True
        raise
    finally:
        if keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results.runtime_s = time.monotonic() - began
    return results


# --- report --------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def method_lines(results: Results) -> list[str]:
    options = results.options
    steps = ", ".join(f"“{s.say}”" if isinstance(s.say, str) else s.name for s in FULL_CONVERSATION)
    return [
        "## Method",
        "",
        "- **Models**: *project* is `config.yml`; *baseline* is `rasa init`'s config (empty "
        "pipeline and policies, which Rasa fills with DIET, ResponseSelector, Memoization, "
        "Rule, UnexpecTED and TED), trained on the same `domain.yml` and `data/`. "
        + (
            "The project's trained in this run (`rasa train --force`, timed); the baseline "
            f"served from an earlier run's model (`{options.baseline_model.name}`)."
            if options.baseline_model is not None
            else "Both trained in this run (`rasa train --force`), one after the other, timed."
        )
        if options.train
        else "- **Models**: *project* is `models/clinicbot.tar.gz` (not retrained, not timed).",
        "- **Stacks**: `tests.support.stack.sandbox_stack` (what `make run` starts: sandbox "
        "GestãoDS + Z-API, action server, rasa, clinic service; rate limit off), one at a time, "
        "SQLite in a temporary directory or a throwaway PostgreSQL database with Redis "
        "(lock store, availability cache). Stacks differ only by model and storage.",
        f"- **Conversation** ({len(FULL_CONVERSATION)} messages, `bench/conversations.py`): "
        f"{steps}. Each patient is new to the assistant and known to the agenda; patients "
        "starting together pick different days and times.",
        f"- **Load**: at each level N patients write at once, each message after the answer "
        f"to the previous one (no think time: the level measures capacity); each of the N "
        f"holds {options.conversations} conversation(s) in a row. One warm-up conversation "
        "per stack is not counted.",
        "- **Reply** = from just before the webhook POST to the fake Z-API's `momment` of "
        "the answer (the message matching the step's expected text). **Answered msgs/s** = "
        "answered messages / wall time from the first POST to the last answer of the level. "
        f"**Errors**: no answer within {REPLY_TIMEOUT:g} s (*lost*), or an answer that is not "
        "the expected one (the patient stops there).",
        "- **rasa ready** = from spawning `rasa run` to its first `200` on `/status` (model "
        "loaded). **RSS** = rasa's resident memory once ready and its peak (VmHWM) after "
        "the load. **TensorFlow** = `libtensorflow` mapped into the rasa process.",
        "- The load generator runs on the same machine as the stack.",
    ]


def startup_section(results: Results) -> list[str]:
    rows = []
    for run in results.runs:
        trained = results.train_s.get(run.config.model)
        rows.append(
            [
                run.config.label,
                fmt(trained, 0) if trained is not None else "–",
                fmt(run.ready_s, 1),
                fmt(run.rss_ready_mb),
                fmt(run.rss_peak_mb),
                {True: "yes", False: "no", None: "?"}[run.tensorflow],
                str(run.log_problems),
            ]
        )
    headers = (
        "stack",
        "train s",
        "rasa ready s",
        "rasa RSS ready MB",
        "rasa RSS peak MB",
        "TensorFlow in rasa",
        "error lines in logs",
    )
    return ["## Start, footprint, training", "", *table(headers, rows)]


def level_section(run: StackRun) -> list[str]:
    rows = []
    for level in run.levels:
        rows.append(
            [
                str(level.patients),
                str(len(level.exchanges)),
                str(len(level.answered)),
                str(len(level.errors) - level.lost),
                str(level.lost),
                fmt(level.rate, 1),
                *(fmt(level.reply(q)) for q in (50, 95, 99)),
                fmt(level.wall_s, 1),
            ]
        )
    headers = (
        "patients",
        "sent",
        "answered",
        "wrong",
        "lost",
        "answered msgs/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "wall s",
    )
    lines = [f"## {run.config.label}", "", *table(headers, rows)]
    wrong = Counter(
        f"{e.step}: {e.error}" for level in run.levels for e in level.errors if e.error != "lost"
    )
    if wrong:
        lines += ["", "Wrong answers (step: what came):", ""]
        lines += [f"- {n}× {what}" for what, n in wrong.most_common(6)]
    return lines


def step_section(results: Results) -> list[str]:
    """Reply p50 per conversation step at the target level, project vs baseline."""
    runs = [run for run in results.runs if run.level(TARGET_LEVEL)]
    if not runs:
        return []
    rows = []
    for step in FULL_CONVERSATION:
        row = [step.name]
        for run in runs:
            level = run.level(TARGET_LEVEL)
            assert level is not None
            values = [e.reply_ms for e in level.answered if e.step == step.name and e.reply_ms]
            row.append(fmt(percentile(values, 50)))
        rows.append(row)
    headers = ["step", *(f"{run.config.label} p50 ms" for run in runs)]
    return [f"## Reply per step at {TARGET_LEVEL} patients", "", *table(headers, rows)]


def profile_section(results: Results) -> list[str]:
    run = next((r for r in results.runs if r.profile), None)
    if run is None:
        return []
    rows = [[f"{share:.1f} %", f"`{where}`"] for share, where in run.profile]
    return [
        f"## Where the project's rasa spends its CPU ({run.config.label}, {TARGET_LEVEL} patients)",
        "",
        f"py-spy, 50 Hz for {PROFILE_SECONDS} s during the level, all threads; share of the "
        "busy samples whose stack includes the function (inclusive, so shares overlap).",
        "",
        *table(("share", "function"), rows),
    ]


def verdict(measured: float, target: float, higher_is_better: bool, unit: str) -> str:
    if math.isnan(measured):
        return "not measured"
    met = measured >= target if higher_is_better else measured <= target
    if met:
        return "**met**"
    if higher_is_better:
        return f"**missed** by {target - measured:,.1f} {unit} ({measured / target:.0%} of it)"
    return f"**missed** by {measured - target:,.1f} {unit} ({measured / target:.1f}× the target)"


def reading(results: Results) -> list[str]:
    project = results.run("project-sqlite") or next(
        (r for r in results.runs if r.config.model == "project"), None
    )
    baseline = results.run("baseline-sqlite") or next(
        (r for r in results.runs if r.config.model == "baseline"), None
    )
    lines = []
    ours = project.level(TARGET_LEVEL) if project else None
    theirs = baseline.level(TARGET_LEVEL) if baseline else None
    if project and ours:
        if baseline and theirs:
            speedup = ours.rate / theirs.rate if theirs.rate else math.nan
            lines.append(
                f"- At {TARGET_LEVEL} patients ({project.config.label} vs "
                f"{baseline.config.label}): {ours.rate:.1f} vs {theirs.rate:.1f} answered "
                f"msgs/s, **{speedup:.2f}×** (target ≥ {TARGETS.speedup:g}×: "
                f"{verdict(speedup, TARGETS.speedup, True, '×')}); reply p95 "
                f"{ours.reply(95):.0f} vs {theirs.reply(95):.0f} ms."
            )
        p95 = verdict(ours.reply(95), TARGETS.p95_ms, False, "ms")
        lines.append(
            f"- Project reply p95 at {TARGET_LEVEL} patients: {ours.reply(95):.0f} ms "
            f"(target ≤ {TARGETS.p95_ms:g} ms: {p95}); p50 {ours.reply(50):.0f} ms."
        )
    if project:
        lines.append(
            f"- rasa ready {project.ready_s:.1f} s after spawn (target ≤ {TARGETS.ready_s:g} s: "
            f"{verdict(project.ready_s, TARGETS.ready_s, False, 's')}); RSS "
            f"{project.rss_ready_mb:.0f} MB ready, {project.rss_peak_mb:.0f} MB peak (target ≤ "
            f"{TARGETS.rss_mb:g} MB: {verdict(project.rss_peak_mb, TARGETS.rss_mb, False, 'MB')})"
            + (
                f"; baseline {baseline.ready_s:.1f} s, {baseline.rss_peak_mb:.0f} MB peak."
                if baseline
                else "."
            )
        )
        if project.tensorflow:
            lines.append(
                "- TensorFlow is still loaded into the project's rasa although no component "
                "of `config.yml` uses it: see *Why TensorFlow is still there* below."
            )
    if "project" in results.train_s:
        trained = results.train_s["project"]
        line = (
            f"- `rasa train`: project {trained:.0f} s (target ≤ {TARGETS.train_s:g} s: "
            f"{verdict(trained, TARGETS.train_s, False, 's')})"
        )
        if "baseline" in results.train_s:
            line += f", baseline {results.train_s['baseline']:.0f} s"
        elif results.options.baseline_model is not None:
            line += ", baseline not trained in this run (`--baseline-model`: an earlier run's)"
        lines.append(line + ".")
    for run in results.runs:
        errors = sum(len(level.errors) for level in run.levels)
        sent = sum(len(level.exchanges) for level in run.levels)
        if errors:
            lost = sum(level.lost for level in run.levels)
            lines.append(
                f"- {run.config.label}: {errors} of {sent} messages not answered as expected "
                f"({lost} lost): see its table."
            )
    load = max(results.stamp.load[0], os.getloadavg()[0])
    cpus = os.cpu_count() or 1
    if load > cpus:
        lines.append(
            f"- The machine was shared: load average up to {load:.1f} on {cpus} CPUs during the "
            "run, so absolute figures are below what a quiet machine gives; the stacks ran one "
            "after the other under the same conditions, and the ratios are what to compare."
        )
    pg = results.run("project-pg")
    pg_level = pg.level(TARGET_LEVEL) if pg else None
    if pg and pg_level and ours:
        lines.append(
            f"- PostgreSQL + Redis at {TARGET_LEVEL} patients: {pg_level.rate:.1f} msgs/s, "
            f"p95 {pg_level.reply(95):.0f} ms (SQLite: {ours.rate:.1f} msgs/s, "
            f"p95 {ours.reply(95):.0f} ms)."
        )
    return lines


TENSORFLOW_NOTE = [
    "## Why TensorFlow is still there",
    "",
    "No component of `config.yml` uses TensorFlow, yet `rasa run` imports it: "
    "`rasa.core.run` → `rasa.server` → `rasa.core.agent` → `rasa.core.policies.policy` → "
    "`rasa.core.featurizers.tracker_featurizers` → `…single_state_featurizer` → "
    "`rasa.nlu.extractors.extractor` → `rasa.utils.train_utils` → "
    "`rasa.utils.tensorflow.callback` (`import tensorflow`, classes derived from Keras at "
    "module level). The project's tokenizer also imports spaCy, whose `thinc` imports "
    "TensorFlow when it is installed. No configuration avoids these imports; only "
    "replacing modules of Rasa's or TensorFlow's at import time would, which this project "
    "does not do. Measured apart on this machine: `import tensorflow` alone takes about "
    "4 s and 430 MB resident.",
]


def plot(results: Results, path: Path) -> None:
    import matplotlib  # type: ignore[import-untyped]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-untyped]
    from matplotlib.ticker import NullLocator  # type: ignore[import-untyped]

    figure, (latency, rate) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run in results.runs:
        patients = [level.patients for level in run.levels]
        (line,) = latency.plot(
            patients, [level.reply(95) for level in run.levels], marker="o", label=run.config.label
        )
        latency.plot(
            patients,
            [level.reply(50) for level in run.levels],
            marker=".",
            linestyle=":",
            color=line.get_color(),
        )
        rate.plot(
            patients, [level.rate for level in run.levels], marker="o", label=run.config.label
        )
    latency.axhline(TARGETS.p95_ms, color="grey", linestyle="--", linewidth=0.8)
    latency.set(
        xlabel="patients writing at once",
        ylabel="reply ms (p95 solid, p50 dotted)",
        title="Reply latency against load",
        xscale="log",
        yscale="log",
    )
    rate.set(
        xlabel="patients writing at once",
        ylabel="answered messages / s",
        title="Throughput",
        xscale="log",
    )
    for axes in (latency, rate):
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xticks(list(results.options.levels))
        axes.set_xticklabels([str(level) for level in results.options.levels])
        axes.grid(True, which="both", alpha=0.3)
    rate.legend(fontsize=8)
    figure.suptitle(f"bench/e2e_benchmark.py at {results.stamp.commit}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(results: Results) -> str:
    options = results.options
    extra = [
        f"- Run time: {results.runtime_s:.0f} s; levels {', '.join(map(str, options.levels))} "
        f"patients, {options.conversations} conversation(s) each; stacks: "
        + ", ".join(CONFIGS[name].label for name in options.configs)
    ]
    header = header_lines(
        results.stamp, results.command, ("rasa", "rasa-sdk", "sanic", "SQLAlchemy"), extra
    )
    sections = [
        ["# End-to-end conversations under load: project vs stock Rasa", "", *header],
        ["## Reading", "", *reading(results)],
        method_lines(results),
        startup_section(results),
        *(level_section(run) for run in results.runs),
        step_section(results),
        profile_section(results),
    ]
    if any(run.tensorflow for run in results.runs if run.config.model == "project"):
        sections.append(TENSORFLOW_NOTE)
    if options.plot is not None:
        sections.append([f"![reply latency and throughput against load]({options.plot.name})"])
    sections.append(
        [
            "Regenerate: `.venv/bin/python -m bench.e2e_benchmark` (`make bench`; `--quick` or "
            "`BENCH_QUICK=1` for a reduced run)."
        ]
    )
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "").strip() not in ("", "0"),
        help=f"levels {QUICK_LEVELS}, SQLite stacks only (also BENCH_QUICK=1)",
    )
    parser.add_argument("--levels", help="comma-separated patient counts, e.g. 1,4")
    parser.add_argument("--conversations", type=int, default=1, help="per patient and level")
    parser.add_argument("--configs", help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument(
        "--no-train", action="store_true", help="serve models/clinicbot.tar.gz, no baseline"
    )
    parser.add_argument(
        "--baseline-model", type=Path, help="serve this baseline model instead of training one"
    )
    parser.add_argument("--no-profile", action="store_true", help="no py-spy profile")
    parser.add_argument("--report", type=Path, default=REPORT_PATH)
    parser.add_argument("--plot", type=Path, default=PLOT_PATH)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs and models")
    args = parser.parse_args(argv)
    levels: tuple[int, ...] = QUICK_LEVELS if args.quick else FULL_LEVELS
    if args.levels:
        levels = tuple(int(part) for part in args.levels.split(","))
    configs = ("project-sqlite", "baseline-sqlite") if args.quick else tuple(CONFIGS)
    if args.no_train:
        configs = ("project-sqlite",)
    if args.configs:
        configs = tuple(args.configs.split(","))
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown stack(s): {', '.join(sorted(unknown))}")
    return Options(
        levels=levels,
        conversations=args.conversations,
        configs=configs,
        train=not args.no_train,
        profile=not args.no_profile,
        report=args.report,
        plot=None if args.no_plot else args.plot,
        keep=args.keep,
        baseline_model=args.baseline_model,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    command = command_line("bench.e2e_benchmark", sys.argv[1:] if argv is None else argv)
    results = run(options, command)
    if options.plot is not None:
        plot(results, options.plot)
    text_ = report(results)
    print(text_)
    options.report.write_text(text_, encoding="utf-8")
    progress(f"report written to {options.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
