"""How many clinics one instance carries: N clinics × M patients, the same M spread over 1, 5
and 20 clinics, and what each added clinic costs.

Run from the project root: ``.venv/bin/python -m bench.clinics_benchmark [--quick]
[--database-url URL]`` (``make bench-clinics``). Prints the report and writes it to
``bench/clinics_report.md`` (stamped with the commit and the machine, :mod:`bench.report`).

The clinics share the process and the trained model: Rasa's NLU and dialogue work per message
does not depend on how many clinics there are, so it is not what this measures (see
``bench/webhook_report.md`` for a turn end to end). What grows with the clinics is the
clinic-specific work, measured here on a real database (a SQLite file of its own, or the
PostgreSQL URL given) with the sandbox clinics' settings:

- **a turn's database work**, for a random patient of a random clinic: the inbound webhook's
  clinic lookup (its Z-API instance), then in a session acting for that clinic (the scoping
  helper; row-level security on PostgreSQL) the inbound message stored, the patient's open
  conversation and coming appointments read, the clinic's template snapshot, and the answer
  queued in the outbox: throughput (one worker, as the WhatsApp database thread is) and p50/p95;
- **a scheduler pass** over every clinic (:class:`~clinicbot.tenancy.jobs.ClinicJobs`: the
  notification tick, surveys and A/B exposures, uncertain bookings, alerts), steady state;
- **memory per added clinic**: what the process keeps per clinic once it has served it (its
  job bodies with their GestãoDS client, its Z-API sender, its template snapshot, its
  configuration), by ``tracemalloc``, and the RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bench.report import Stamp, command_line, header_lines, percentile
from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.models import Appointment, Conversation, ConversationMessage
from clinicbot.db.types import utcnow
from clinicbot.messages.cache import TEMPLATE_CACHE
from clinicbot.messages.store import seed as seed_templates
from clinicbot.settings import Settings, read_settings
from clinicbot.tenancy.jobs import ClinicJobs
from clinicbot.tenancy.registry import (
    ClinicConfig,
    NewClinic,
    active_clinics,
    add_clinic,
    clinic_for_zapi_instance,
)
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp.outbox import enqueue_text
from clinicbot.whatsapp.zapi.sender import ZapiSender

REPORT_PATH = Path(__file__).with_name("clinics_report.md")
SECRETS_KEY = "6Kw0rTbl5S0vQ3pJ2n0mJ3KJ9qjv1a0g2F6uYc8fZ2s="  # a throwaway Fernet key
MESSAGES_PER_PATIENT = 4
# The scheduler's per-clinic jobs (ClinicJobs) timed in a pass.
PASS_JOBS = ("tick", "surveys_and_exposures", "check_bookings", "evaluate_alerts")


@dataclass(frozen=True)
class Config:
    clinic_counts: tuple[int, ...]
    patients: int
    turns: int
    passes: int
    database_url: str | None


@dataclass(frozen=True)
class Result:
    clinics: int
    patients: int
    seed_seconds: float
    turn_ms: list[float]
    turns_per_second: float
    pass_ms: list[float]
    job_ms: dict[str, float]  # each job's median time over the passes
    kib_per_clinic: float
    rss_kib_per_clinic: float


def _settings(url: str) -> Settings:
    """Sandbox settings on ``url``; the default clinic without a Z-API connection to check."""
    return dataclasses.replace(
        read_settings(),
        database_url=url,
        clinic_secrets_keys=SECRETS_KEY,
        zapi_instance_id="bench-default",
        zapi_instance_token="",
        alert_whatsapp_phone="",
        alert_email_to=(),
        alert_webhook_url="",
        backup_schedule="off",
    )


def _phone(clinic: int, patient: int) -> str:
    return f"55319{clinic:02d}{patient:06d}"


def _seed(engine: Engine, settings: Settings, clinics: int, patients: int) -> list[ClinicConfig]:
    """``clinics`` clinics (the default one and ``clinics - 1`` more) sharing ``patients``."""
    with session_scope(engine) as session:
        for number in range(2, clinics + 1):
            name, instance = f"Clínica {number}", f"Z{number}"
            add_clinic(session, NewClinic(f"c{number}", name, zapi_instance_id=instance), settings)
    with session_scope(engine) as session:
        configs = active_clinics(session, settings)
    now = utcnow()
    for config in configs:
        share = range(config.id - 1, patients, clinics)
        with clinic_session(config.id, engine) as session:
            seed_templates(session)
            conversations = [
                {"clinic_id": config.id, "phone": _phone(config.id, p), "started_at": now}
                for p in share
            ]
            session.execute(insert(Conversation), conversations)
            session.execute(
                insert(Appointment),
                [
                    {
                        "clinic_id": config.id,
                        "gestaods_id": f"G{p}",  # the same ids in every clinic: unique per clinic
                        "phone": _phone(config.id, p),
                        "cpf": f"{p:011d}",
                        "starts_at": now + timedelta(days=10, minutes=30 * (p % 16)),
                        "ends_at": now + timedelta(days=10, minutes=30 * (p % 16) + 30),
                    }
                    for p in share
                ],
            )
            session.execute(
                insert(ConversationMessage),
                [
                    {
                        "clinic_id": config.id,
                        "phone": _phone(config.id, p),
                        "direction": "in" if m % 2 == 0 else "out",
                        "text": "quero marcar uma consulta",
                        "created_at": now - timedelta(minutes=m),
                    }
                    for p in share
                    for m in range(MESSAGES_PER_PATIENT)
                ],
            )
    return configs


def _turn(engine: Engine, settings: Settings, clinic: ClinicConfig, phone: str, n: int) -> None:
    """The clinic-specific database work of one message and its answer."""
    with session_scope(engine) as session:
        found = clinic_for_zapi_instance(session, clinic.zapi_instance_id, settings)
    assert found is not None and found.id == clinic.id
    with clinic_session(clinic.id, engine) as session:
        session.add(
            ConversationMessage(
                phone=phone, direction="in", text="tem horário amanhã?", external_message_id=f"m{n}"
            )
        )
        session.execute(
            select(Conversation).where(Conversation.phone == phone, Conversation.status == "active")
        ).first()
        session.execute(
            select(Appointment).where(Appointment.phone == phone, Appointment.starts_at > utcnow())
        ).all()
        snapshot = TEMPLATE_CACHE.get(session)
        assert snapshot is not None
        enqueue_text(session, phone, "Tenho sim! Qual período você prefere?")


def _timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def _rss_kib() -> int:
    """The process's resident set now (``/proc/self/statm``), in KiB."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize() // 1024


def _per_clinic_memory(
    engine: Engine, settings: Settings, configs: list[ClinicConfig]
) -> tuple[float, float]:
    """KiB (tracemalloc) and KiB of RSS the process keeps per clinic it has served."""
    jobs = ClinicJobs(settings, engine=engine)
    senders: list[ZapiSender] = []

    def warm(config: ClinicConfig) -> None:
        jobs.jobs_for(config)
        senders.append(ZapiSender.from_settings(config.settings(settings)))
        with clinic_session(config.id, engine) as session:
            TEMPLATE_CACHE.get(session)

    warm(configs[0])  # the first clinic pays for imports and pools
    TEMPLATE_CACHE.clear()  # the turns cached every clinic's snapshot: count them again
    warm(configs[0])
    gc.collect()
    rss_before = _rss_kib()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for config in configs[1:]:
        warm(config)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    added = max(1, len(configs) - 1)

    async def close() -> None:
        for sender in senders:
            await sender.close()

    asyncio.run(close())
    return grown / 1024 / added, (_rss_kib() - rss_before) / added


def measure(clinics: int, config: Config, workdir: Path) -> Result:
    url = config.database_url or f"sqlite:///{workdir / f'clinics_{clinics}.db'}"
    upgrade_to_head(url)
    settings = _settings(url)
    engine = make_engine(url)
    TEMPLATE_CACHE.clear()
    started = time.perf_counter()
    configs = _seed(engine, settings, clinics, config.patients)
    seed_seconds = time.perf_counter() - started

    rng = random.Random(clinics)
    by_id = {c.id: c for c in configs}
    turn_ms: list[float] = []
    started = time.perf_counter()
    for n in range(config.turns):
        patient = rng.randrange(config.patients)
        clinic = by_id[patient % clinics + 1]
        phone = _phone(clinic.id, patient)
        turn_ms.append(_timed(functools.partial(_turn, engine, settings, clinic, phone, n)))
    turns_per_second = config.turns / (time.perf_counter() - started)

    jobs = ClinicJobs(settings, engine=engine)
    steps = {name: getattr(jobs, name) for name in PASS_JOBS}
    for step in steps.values():  # the first pass builds each clinic's job bodies
        step()
    timings = [{name: _timed(step) for name, step in steps.items()} for _ in range(config.passes)]
    pass_ms = [sum(timing.values()) for timing in timings]
    job_ms = {name: statistics.median(t[name] for t in timings) for name in PASS_JOBS}
    kib, rss = _per_clinic_memory(engine, settings, configs) if clinics > 1 else (0.0, 0.0)
    engine.dispose()
    return Result(
        clinics, config.patients, seed_seconds, turn_ms, turns_per_second, pass_ms, job_ms, kib, rss
    )


def report(results: list[Result], config: Config, stamp: Stamp, args: list[str]) -> str:
    backend = "PostgreSQL" if config.database_url else "SQLite (a file per run)"
    lines = [
        "# Clinics per instance: N clinics × M patients",
        "",
        *header_lines(
            stamp,
            command_line("bench.clinics_benchmark", args),
            packages=("sqlalchemy",),
            extra=[f"- Database: {backend}; {config.patients} patients in every run"],
        ),
        "",
        "What grows with the clinics (the model, Rasa and the process are shared; a turn's NLU "
        "and dialogue cost does not depend on the number of clinics): the clinic-specific "
        "database work of a turn, a scheduler pass over every clinic, and the memory the process "
        "keeps per clinic it served. Method: the docstring of `bench/clinics_benchmark.py`.",
        "",
        "| clinics | patients each | turn DB work p50 | p95 | turns/s (1 worker) | "
        "scheduler pass p50 | per clinic | memory per added clinic (tracemalloc) | RSS "
        "per added clinic |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        pass_p50 = statistics.median(r.pass_ms)
        memory = f"{r.kib_per_clinic:.0f} KiB" if r.clinics > 1 else "—"
        rss = f"{r.rss_kib_per_clinic:.0f} KiB" if r.clinics > 1 else "—"
        lines.append(
            f"| {r.clinics} | {r.patients // r.clinics} | {percentile(r.turn_ms, 50):.1f} ms | "
            f"{percentile(r.turn_ms, 95):.1f} ms | {r.turns_per_second:.0f} | "
            f"{pass_p50:.0f} ms | {pass_p50 / r.clinics:.1f} ms | {memory} | {rss} |"
        )
    first, last = results[0], results[-1]
    slower = percentile(last.turn_ms, 95) / percentile(first.turn_ms, 95)
    pass_growth = (statistics.median(last.pass_ms) - statistics.median(first.pass_ms)) / max(
        1, last.clinics - first.clinics
    )
    lines += [
        "",
        "A scheduler pass by job (p50, ms): "
        + "; ".join(
            f"{r.clinics} clinics: "
            + ", ".join(f"`{name}` {ms:.0f}" for name, ms in r.job_ms.items())
            for r in results
        )
        + ".",
        "",
        "## Reading",
        "",
        f"- A turn's database work at {last.clinics} clinics: p95 {slower:.2f}× the single "
        f"clinic's ({percentile(first.turn_ms, 95):.1f} → {percentile(last.turn_ms, 95):.1f} ms).",
        f"- Each added clinic adds about {pass_growth:.0f} ms to a scheduler pass (the jobs run "
        "every few seconds to minutes; the notification tick is the most frequent, "
        "`SCHEDULER_POLL_SECONDS`).",
        f"- Each added clinic keeps about {last.kib_per_clinic:.0f} KiB of Python objects "
        f"(RSS {last.rss_kib_per_clinic:.0f} KiB): against Rasa's ~1.2 GB shared by all, "
        "memory does not limit the clinics an instance carries; the scheduler pass and the "
        "total message rate do.",
        "",
        "Seeding (not a figure of the assistant): "
        + ", ".join(f"{r.clinics} clinics {r.seed_seconds:.1f} s" for r in results)
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    parser.add_argument("--clinics", default="1,5,20", help="clinic counts, comma-separated")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--output", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    stamp = Stamp.capture()
    config = Config(
        clinic_counts=(1, 2) if args.quick else tuple(int(n) for n in args.clinics.split(",")),
        patients=20 if args.quick else args.patients,
        turns=10 if args.quick else args.turns,
        passes=1 if args.quick else args.passes,
        database_url=args.database_url,
    )
    if config.database_url and len(config.clinic_counts) > 1:
        parser.error("--database-url measures one clinic count at a time (an empty database each)")
    with tempfile.TemporaryDirectory(prefix="clinics-bench-") as workdir:
        results = [measure(n, config, Path(workdir)) for n in config.clinic_counts]
    text = report(results, config, stamp, argv)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
