"""Two rasa instances behind nginx: throughput against one, one patient's order, exactly-once
background work.

Run from the project root: ``.venv/bin/python -m bench.scale_benchmark [--patients N]``
(``make bench-scale``). Writes ``bench/scale_report.md`` (:mod:`bench.report` stamps it).

What it starts, all on free ports, and removes afterwards:

- a fresh PostgreSQL database on 127.0.0.1:5432 (Rasa's tracker store and the application's
  tables), dropped at the end; Redis on 127.0.0.1:6379 for Rasa's ``RedisLockStore``, under a
  key prefix of its own (its keys deleted at the end);
- instance A: the sandbox GestãoDS and Z-API, an action server, rasa and the clinic service
  (:func:`tests.support.stack.sandbox_stack`); instance B: one more action server and rasa on the
  same database, Redis, sandbox and clinic service (``Stack(only={"actions", "rasa"})``);
- nginx (:mod:`bench.balancer`): one port in front of A alone, one in front of A and B.

Phases:

1. **One instance**: ``--patients`` patients at once (greeting, FAQ, booking as new patients:
   :mod:`bench.scale_driver`) through nginx → A, while B is not running yet.
2. **Two instances**: B started; the same load through nginx → A + B (round robin).
3. **Order**: a few patients each send a whole booking conversation at once, without waiting
   for answers, through nginx → A + B, so consecutive messages land on different instances;
   each Rasa tracker must hold the messages in the order sent, and each booking must succeed.
4. **Inbound recovery**: messages stored as a crashed process leaves them (``received``, a few
   minutes old); both instances' recovery loops look for them: each must run once.
5. **Scheduler**: a second clinic service (its scheduler) started; every pending reminder of the
   bookings above made due now: each must reach the outbox once, and be sent once.

Then the whole outbox: every row sent once by one of the two delivery workers (as many Z-API
messages as sent rows, no id twice), each phone's messages in enqueue order.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.balancer import Balancer
from bench.report import Stamp, command_line, header_lines, percentile
from bench.scale_driver import Conversation, booking_script, phone_numbers, run_patients
from clinicbot.db.engine import make_engine
from clinicbot.stack import Ports, Stack
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from tests.support.stack import free_port, sandbox_stack
from tests.support.whatsapp import Turns, WhatsAppPatient

REPORT_PATH = Path(__file__).with_name("scale_report.md")
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/3"
WEBHOOK = "/webhooks/zapi/webhook"
BURST_GAP_SECONDS = 0.05
RECOVERY_BACKDATE_MINUTES = 3
RECOVERY_DEADLINE = 150.0  # each instance's recovery loop runs every 60 s
SCHEDULER_DEADLINE = 90.0
QUEUED_LINE = re.compile(r"notification (\d+) \(\w+\) queued")


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Phase:
    name: str
    instances: int
    conversations: list[Conversation]
    wall_s: float
    upstreams: Counter[str]
    cpu_s: float  # rasa and action server processes, all instances
    load: float  # the machine's 1-minute load average when the phase started

    @property
    def turn_seconds(self) -> list[float]:
        return [turn.seconds for c in self.conversations for turn in c.turns]

    @property
    def throughput(self) -> float:
        return len(self.turn_seconds) / self.wall_s if self.wall_s else 0.0


@dataclass
class Burst:
    phone: str
    sent: list[str]
    tracked: list[str]
    booked: bool
    last_reply: str


@dataclass
class Results:
    stamp: Stamp
    command: str
    patients: int
    start_s: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    bursts: list[Burst] = field(default_factory=list)
    burst_upstreams: Counter[str] = field(default_factory=Counter)
    recovery: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    outbox: dict[str, Any] = field(default_factory=dict)
    runtime_s: float = 0.0


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database on the shared server, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"clinicbot_scale_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def lock_prefix() -> Iterator[str]:
    """A Redis key prefix of this run's own (letters and digits: Rasa's rule); its keys are
    deleted afterwards."""
    prefix = f"scalebench{secrets.token_hex(4)}"
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def rss_mb(stack: Stack, name: str) -> float:
    """Resident memory of one of the stack's processes, from /proc."""
    for service in stack.services:
        if service.name == name and service.process is not None:
            status = Path(f"/proc/{service.process.pid}/status").read_text()
            kb = re.search(r"VmRSS:\s+(\d+)", status)
            return int(kb.group(1)) / 1024 if kb else float("nan")
    return float("nan")


def start_timed(stack: Stack, label: str, results: Results) -> None:
    progress(f"starting {label}")
    began = time.monotonic()
    stack.start(timeout=600)
    results.start_s[label] = time.monotonic() - began
    progress(f"{label} ready in {results.start_s[label]:.0f} s")


def cpu_seconds(stacks: list[Stack]) -> float:
    """CPU time (user + system) the rasa and action server processes have used, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stack in stacks:
        for service in stack.services:
            if service.name in ("rasa", "actions") and service.process is not None:
                fields = Path(f"/proc/{service.process.pid}/stat").read_text().rsplit(")", 1)
                stat = fields[1].split()
                total += (int(stat[11]) + int(stat[12])) / ticks  # utime, stime
    return total


def run_load(
    name: str,
    instances: list[Stack],
    url: str,
    balancer: Balancer,
    results: Results,
) -> None:
    stack = instances[0]
    turns = Turns(stack.env["DATABASE_URL"])
    sandbox = f"http://127.0.0.1:{stack.ports.sandbox}"
    before = len(balancer.upstream_of_requests(WEBHOOK))
    load = os.getloadavg()[0]
    cpu_before = cpu_seconds(instances)
    progress(f"{name}: {results.patients} patients through nginx -> {len(instances)} instance(s)")
    try:
        conversations, wall = run_patients(
            url,
            sandbox,
            turns,
            phone_numbers(len(results.phases) + 1),
            results.patients,
            first_index=len(results.phases) * results.patients,
        )
    finally:
        turns.close()
    upstreams = Counter(balancer.upstream_of_requests(WEBHOOK)[before:])
    cpu = cpu_seconds(instances) - cpu_before
    phase = Phase(name, len(instances), conversations, wall, upstreams, cpu, load)
    results.phases.append(phase)
    progress(f"{name}: {phase.throughput:.1f} turns/s, {len(phase.turn_seconds)} turns")


def warm_up(url: str, stack: Stack, prefix: int) -> None:
    """Two short conversations, so that the measured phases do not pay first-call costs."""
    turns = Turns(stack.env["DATABASE_URL"])
    sandbox = f"http://127.0.0.1:{stack.ports.sandbox}"
    try:
        for phone in (f"55319{prefix}0016666", f"55319{prefix}0026666"):
            patient = WhatsAppPatient(phone, url, sandbox, turns)
            patient.say("oi")
            patient.say("quanto custa a consulta?")
    finally:
        turns.close()


def tracker_messages(stack: Stack, phone: str) -> list[str]:
    """The message ids of the patient's messages in Rasa's tracker, in tracker order."""
    answer = requests.get(
        f"http://127.0.0.1:{stack.ports.rasa}/conversations/{phone}/tracker",
        params={"token": stack.settings().rasa_api_token},
        timeout=30,
    )
    answer.raise_for_status()
    return [
        str(event.get("message_id"))
        for event in answer.json()["events"]
        if event.get("event") == "user"
    ]


def run_bursts(url: str, balancer: Balancer, stack: Stack, results: Results, count: int) -> None:
    """Each of ``count`` patients sends a whole booking without waiting for the answers."""
    turns = Turns(stack.env["DATABASE_URL"])
    sandbox = f"http://127.0.0.1:{stack.ports.sandbox}"
    phones = phone_numbers(8)
    numbers = [next(phones) for _ in range(count)]
    first_index = len(results.phases) * results.patients + 7  # other slots than the phases'
    lock = threading.Lock()
    log_before = len(balancer.upstream_of_requests(WEBHOOK))

    def burst(index: int) -> tuple[WhatsAppPatient, list[str], int]:
        patient = WhatsAppPatient(numbers[index], url, sandbox, turns)
        # Day 1 for all, a time of its own for each: the menus list only free slots.
        script = [
            "oi",
            "qual o endereço?",
            *booking_script(first_index + index),
            "1",
            str(index + 1),
            "sim",
        ]
        for message in script:
            with lock:  # one request at a time, so nginx's log order is the sending order
                assert patient.send(message).status_code == 200
            time.sleep(BURST_GAP_SECONDS)
        for message_id in patient.sent_ids:
            turns.wait_processed(message_id, deadline=180)
        turns.wait_delivered(patient.phone, deadline=60)
        return patient, script, index

    progress(f"order: {count} patients each send a whole booking at once through A + B")
    try:
        with ThreadPoolExecutor(count) as pool:
            done = list(pool.map(burst, range(count)))
    finally:
        turns.close()
    results.burst_upstreams = Counter(balancer.upstream_of_requests(WEBHOOK)[log_before:])
    for patient, _script, _ in done:
        replies = [reply["message"] for reply in patient.new_messages()]
        results.bursts.append(
            Burst(
                patient.phone,
                list(patient.sent_ids),
                tracker_messages(stack, patient.phone),
                any("Prontinho" in reply for reply in replies),
                replies[-1].splitlines()[0][:70] if replies else "",
            )
        )


def run_recovery(stack: Stack, results: Results, count: int) -> None:
    """Messages left ``received`` by a "crashed" process, replayed by whichever instance's
    recovery loop claims each first."""
    engine = make_engine(stack.env["DATABASE_URL"])
    phones = phone_numbers(9)
    stored = []
    for _ in range(count):
        phone = next(phones)
        event = InboundEvent(
            InboundKind.MESSAGE,
            reason="text",
            phone=phone,
            message_id=f"RECOVERY{secrets.token_hex(6).upper()}",
            text="qual o horário de atendimento?",
            data={"chat_id": phone},
        )
        message = inbox.store_inbound("zapi", event, engine)
        assert message is not None
        stored.append(message)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE conversation_messages SET created_at = created_at - "
                f"interval '{RECOVERY_BACKDATE_MINUTES} minutes' WHERE id = ANY(:ids)"
            ),
            {"ids": [m.id for m in stored]},
        )
    progress(f"recovery: {count} stored, unprocessed messages; waiting for the recovery loops")
    began = time.monotonic()
    statuses: dict[str, str] = {}
    while time.monotonic() - began < RECOVERY_DEADLINE:
        with engine.connect() as connection:
            statuses = dict(
                connection.execute(
                    text(
                        "SELECT external_message_id, status FROM conversation_messages "
                        "WHERE id = ANY(:ids)"
                    ),
                    {"ids": [m.id for m in stored]},
                ).all()
            )
        if all(status in ("processed", "dead") for status in statuses.values()):
            break
        time.sleep(1)
    waited = time.monotonic() - began
    time.sleep(3)  # a second run of a turn would have answered by now
    with engine.connect() as connection:
        answers = dict(
            connection.execute(
                text(
                    "SELECT in_reply_to, COUNT(*) FROM outbox_messages "
                    "WHERE in_reply_to = ANY(:ids) GROUP BY in_reply_to"
                ),
                {"ids": [m.external_id for m in stored]},
            ).all()
        )
    engine.dispose()
    turns_per_message: Counter[int] = Counter()
    for message in stored:
        ids = tracker_messages(stack, message.phone)
        turns_per_message[ids.count(message.external_id)] += 1
    results.recovery = {
        "stored": count,
        "statuses": Counter(statuses.values()),
        "turns_per_message": turns_per_message,
        "answers_per_message": Counter(answers.get(m.external_id, 0) for m in stored),
        "waited_s": waited,
    }
    progress(f"recovery: {results.recovery}")


def _log(stack: Stack, name: str) -> str:
    assert stack.log_dir is not None
    path = stack.log_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def run_scheduler(stack: Stack, second: Stack, results: Results) -> None:
    """Two clinic services' schedulers; every pending reminder made due now."""
    engine = make_engine(stack.env["DATABASE_URL"])
    with engine.begin() as connection:
        due = [
            row[0]
            for row in connection.execute(
                text(
                    "UPDATE notifications SET scheduled_for = now() - interval '1 second' "
                    "WHERE status = 'pending' RETURNING id"
                )
            )
        ]
    progress(f"scheduler: {len(due)} pending reminders made due; two schedulers running")
    began = time.monotonic()
    left = len(due)
    while time.monotonic() - began < SCHEDULER_DEADLINE and due:
        with engine.connect() as connection:
            left = connection.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM notifications WHERE id = ANY(:ids) "
                    "AND status = 'pending') + (SELECT COUNT(*) FROM outbox_messages "
                    "WHERE status IN ('pending', 'sending'))"
                ),
                {"ids": due},
            ).scalar_one()
        if left == 0:
            break
        time.sleep(1)
    waited = time.monotonic() - began
    time.sleep(3)
    with engine.connect() as connection:
        statuses = Counter(
            dict(
                connection.execute(
                    text("SELECT id, status FROM notifications WHERE id = ANY(:ids)"),
                    {"ids": due},
                ).all()
            ).values()
        )
        outbox_rows = Counter(
            connection.execute(
                text("SELECT dedupe_key FROM outbox_messages WHERE dedupe_key = ANY(:keys)"),
                {"keys": [f"notification:{n}" for n in due]},
            ).scalars()
        )
    engine.dispose()
    queued_by = {
        label: [int(m.group(1)) for m in QUEUED_LINE.finditer(_log(instance, "service"))]
        for label, instance in (("service A", stack), ("service B", second))
    }
    queued_ids = [n for ids in queued_by.values() for n in ids if n in set(due)]
    results.scheduler = {
        "due": len(due),
        "statuses": statuses,
        "outbox_rows": sum(outbox_rows.values()),
        "outbox_rows_per_reminder": Counter(outbox_rows.values()),
        "queued_by": {label: len(set(ids) & set(due)) for label, ids in queued_by.items()},
        "queued_twice": len(queued_ids) - len(set(queued_ids)),
        "waited_s": waited,
    }
    progress(f"scheduler: {results.scheduler}")


def check_outbox(stack: Stack, results: Results) -> None:
    """Every sent outbox row against what the sandbox Z-API received."""
    sandbox = f"http://127.0.0.1:{stack.ports.sandbox}"
    received = requests.get(
        f"{sandbox}/__sandbox/zapi/messages", params={"after": 0}, timeout=30
    ).json()["messages"]
    engine = make_engine(stack.env["DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, phone, status, external_message_id FROM outbox_messages ORDER BY id")
        ).all()
    engine.dispose()
    sent = [row for row in rows if row.status in ("sent", "delivered", "read")]
    ids = Counter(message["messageId"] for message in received)
    seq_of = {message["messageId"]: message["seq"] for message in received}
    out_of_order = 0
    by_phone: dict[str, list[int]] = defaultdict(list)
    for row in sent:
        if row.external_message_id in seq_of:
            by_phone[row.phone].append(seq_of[row.external_message_id])
    for seqs in by_phone.values():
        out_of_order += sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    results.outbox = {
        "rows": len(rows),
        "sent_rows": len(sent),
        "statuses": Counter(row.status for row in rows),
        "zapi_messages": len(received),
        "zapi_ids_twice": sum(1 for n in ids.values() if n > 1),
        "sent_rows_not_at_zapi": sum(1 for row in sent if row.external_message_id not in ids),
        "phones": len(by_phone),
        "out_of_order": out_of_order,
    }
    progress(f"outbox: {results.outbox}")


def run(args: argparse.Namespace, results: Results) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="clinicbot-scale-"))
    with fresh_database() as database_url, lock_prefix() as prefix:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_LOCK_PREFIX": prefix,
            "RASA_API_TOKEN": secrets.token_hex(24),
            "ACTION_SERVER_TOKEN": secrets.token_hex(24),
            "SCHEDULER_POLL_SECONDS": "2",
            "LOG_LEVEL": "INFO",
        }
        first = sandbox_stack(workdir / "a", env)
        shared = {**first.env}
        one_port, two_port = free_port(), free_port()
        second_rasa = free_port()
        balancer = Balancer(
            {one_port: [first.ports.rasa], two_port: [first.ports.rasa, second_rasa]},
            workdir / "nginx",
        )
        stacks: list[Stack] = [first]
        try:
            start_timed(first, "instance A (sandbox, actions, rasa, clinic service)", results)
            assert first.clock_file is not None
            shared["CLOCK_FILE"] = str(first.clock_file)
            second = Stack(
                ports=Ports(
                    rasa=second_rasa,
                    actions=free_port(),
                    service=first.ports.service,
                    sandbox=first.ports.sandbox,
                ),
                env=shared,
                log_dir=workdir / "b",
                only=frozenset({"actions", "rasa"}),
            )
            balancer.start()
            one_url, two_url = f"http://127.0.0.1:{one_port}", f"http://127.0.0.1:{two_port}"
            warm_up(one_url, first, 1)
            run_load("one instance", [first], one_url, balancer, results)
            results.rss_mb["rasa A after one-instance load"] = rss_mb(first, "rasa")
            stacks.append(second)
            start_timed(second, "instance B (actions, rasa)", results)
            warm_up(f"http://127.0.0.1:{second.ports.rasa}", first, 2)
            run_load("two instances", [first, second], two_url, balancer, results)
            results.rss_mb["rasa A"] = rss_mb(first, "rasa")
            results.rss_mb["rasa B"] = rss_mb(second, "rasa")
            run_bursts(two_url, balancer, first, results, args.bursts)
            run_recovery(first, results, args.recovery)
            scheduler = Stack(
                ports=Ports(
                    rasa=first.ports.rasa,
                    actions=first.ports.actions,
                    service=free_port(),
                    sandbox=first.ports.sandbox,
                ),
                env=shared,
                log_dir=workdir / "c",
                only=frozenset({"service"}),
            )
            stacks.append(scheduler)
            start_timed(scheduler, "second clinic service (scheduler)", results)
            run_scheduler(first, scheduler, results)
            check_outbox(first, results)
        finally:
            balancer.stop()
            for stack in reversed(stacks):
                stack.stop()
            if args.keep:
                progress(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}"


def render(results: Results) -> str:
    lines = [
        "# Scaling out: two rasa instances behind nginx",
        "",
        *header_lines(
            results.stamp,
            results.command,
            extra=[f"- Whole run: {results.runtime_s:.0f} s"],
        ),
        "",
        "## Method",
        "",
        "`make bench-scale` (`bench/scale_benchmark.py`) starts everything on free ports: a "
        "fresh PostgreSQL database (tracker store and application tables, dropped at the end), "
        "Redis for Rasa's `RedisLockStore` (a key prefix of its own), the sandbox GestãoDS and "
        "Z-API, instance A (action server, rasa, clinic service), later instance B (action "
        "server, rasa) on the same database, Redis, sandbox and clinic service, and Debian's "
        "nginx from a generated config (`bench/balancer.py`): one port in front of A, one in "
        "front of A and B (round robin, keep-alive). Each simulated patient "
        "(`bench/scale_driver.py`) greets, asks the address, and books as a new patient (CPF, "
        "birth date, name, e-mail, day, time, confirmation): 10 turns, each timed from the "
        "webhook POST until the database says the message was processed and its answers were "
        "delivered to the sandbox Z-API. The machine is shared: both instances, nginx, "
        "PostgreSQL, Redis, the sandbox, the clinic service and the simulated patients run on "
        "the same CPUs. Inbound recovery: messages are stored as a crashed process leaves "
        "them (`received`, back-dated a few minutes) while both instances run. Scheduler: a "
        "second clinic service is started, then every pending reminder of the bookings above "
        "is made due at once (an SQL update of `scheduled_for`).",
        "",
        "## Throughput: one instance against two",
        "",
        "| phase | instances | patients | turns | booked | failed | wall s | turns/s "
        "| turn p50 ms | p95 ms | requests per instance | rasa + actions CPU s per turn "
        "| machine load at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in results.phases:
        seconds = phase.turn_seconds
        spread = ", ".join(f"{addr}: {n}" for addr, n in sorted(phase.upstreams.items()))
        lines.append(
            f"| {phase.name} | {phase.instances} | {len(phase.conversations)} | {len(seconds)} "
            f"| {sum(c.booked for c in phase.conversations)} "
            f"| {sum(bool(c.failure) for c in phase.conversations)} | {phase.wall_s:.1f} "
            f"| {phase.throughput:.1f} | {_ms(seconds, 50)} | {_ms(seconds, 95)} | {spread} "
            f"| {phase.cpu_s / max(1, len(seconds)):.2f} | {phase.load:.1f} |"
        )
    failures = [c.failure for p in results.phases for c in p.conversations if c.failure]
    if failures:
        lines += ["", "Conversations that did not finish: " + "; ".join(failures[:5])]
    if len(results.phases) == 2 and results.phases[0].throughput:
        one, two = results.phases
        ratio = two.throughput / one.throughput
        cpu_one = one.cpu_s / max(1, len(one.turn_seconds))
        cpu_two = two.cpu_s / max(1, len(two.turn_seconds))
        cores = os.cpu_count() or 1
        lines += [
            "",
            f"Two instances: **{ratio:.2f}×** the turns per second of one. A turn costs the "
            f"rasa and action server processes {cpu_one:.2f} CPU s with one instance and "
            f"{cpu_two:.2f} with two: spreading the turns adds no work per turn. Both instances "
            f"share this machine's {cores} cores with everything else (1-minute load "
            f"{one.load:.1f} and {two.load:.1f} when the phases started, other work included), "
            "so the second one most likely overlaps the first one's waits (each rasa process runs "
            "its database work on one thread and its turns on one event loop) rather than "
            "adding CPU; on hosts of their own, throughput would grow with the instances until "
            "PostgreSQL, shared by all, is the limit (not measured here).",
        ]
    lines += [
        "",
        "Start-up (s): "
        + ", ".join(f"{label} {seconds:.0f}" for label, seconds in results.start_s.items()),
        "",
        "Resident memory (MB): "
        + ", ".join(f"{label} {mb:.0f}" for label, mb in results.rss_mb.items()),
        "",
        "## One patient's messages over both instances",
        "",
        f"{len(results.bursts)} patients each sent a whole booking (greeting, FAQ, CPF, birth "
        f'date, name, e-mail, day 1, a time of its own, "sim") {BURST_GAP_SECONDS * 1000:.0f} '
        "ms apart, without waiting for answers, through nginx → A + B.",
        "",
    ]
    if results.bursts:
        lines += [
            "Requests per instance: "
            + ", ".join(f"{a}: {n}" for a, n in sorted(results.burst_upstreams.items())),
            "",
            "| patient | messages sent | in Rasa's tracker in the order sent | booked "
            "| last answer (first line) |",
            "|---|---|---|---|---|",
        ]
        for burst in results.bursts:
            in_order = burst.tracked == burst.sent
            lines.append(
                f"| …{burst.phone[-6:]} | {len(burst.sent)} | {'yes' if in_order else 'NO'} "
                f"| {'yes' if burst.booked else 'no'} | {burst.last_reply} |"
            )
    rec, sch, out = results.recovery, results.scheduler, results.outbox
    lines += ["", "## Exactly once with two instances", ""]
    if rec:
        lines += [
            f"- **Inbound recovery**: {rec['stored']} messages stored unprocessed and "
            f"{RECOVERY_BACKDATE_MINUTES} min old (what a crash leaves); after "
            f"{rec['waited_s']:.0f} s their statuses were {dict(rec['statuses'])}; Rasa turns "
            f"per message: {_counts(rec['turns_per_message'])}; answers per message: "
            f"{_counts(rec['answers_per_message'])} (both instances' recovery loops see every "
            "such message; the claim lets one of them run it).",
        ]
    if sch:
        lines += [
            f"- **Scheduler**: two clinic services' schedulers; {sch['due']} pending reminders "
            f"made due at once; after {sch['waited_s']:.0f} s their statuses were "
            f"{dict(sch['statuses'])}; outbox rows {sch['outbox_rows']} (per reminder: "
            f"{_counts(sch['outbox_rows_per_reminder'])}); queued by {sch['queued_by']}; "
            f"queued twice: {sch['queued_twice']}.",
        ]
    if out:
        lines += [
            f"- **Outbox** (two delivery workers, one per rasa): {out['rows']} rows "
            f"({dict(out['statuses'])}); {out['zapi_messages']} messages received by the "
            f"sandbox Z-API for {out['sent_rows']} sent rows; Z-API ids seen twice: "
            f"{out['zapi_ids_twice']}; sent rows missing at Z-API: "
            f"{out['sent_rows_not_at_zapi']}; messages out of enqueue order (over "
            f"{out['phones']} phones): {out['out_of_order']}.",
        ]
    lines += [
        "",
        "How each is kept to once: `clinicbot/db/claims.py` (guarded UPDATE, `FOR UPDATE SKIP "
        "LOCKED` on PostgreSQL); a patient's turns wait for the patient's earlier messages "
        "whichever instance stored them (`clinicbot/whatsapp/inbox.py`, `claim` and "
        "`next_in_line`); Rasa's tracker is guarded by the Redis lock store.",
        "",
    ]
    return "\n".join(lines)


def _counts(counter: Counter[int]) -> str:
    return ", ".join(f"{n} × {k}" for k, n in sorted(counter.items())) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=16, help="patients at once per phase")
    parser.add_argument("--bursts", type=int, default=4, help="patients sending all at once")
    parser.add_argument("--recovery", type=int, default=8, help="messages left to recovery")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    parser.add_argument("--output", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    results = Results(
        Stamp.capture(),
        command_line("bench.scale_benchmark", argv if argv is not None else sys.argv[1:]),
        args.patients,
    )
    # SIGTERM unwinds like Ctrl-C: nginx stopped, processes stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    run(args, results)
    results.runtime_s = time.monotonic() - began
    report = render(results)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
