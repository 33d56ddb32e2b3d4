"""Z-API webhook latency: the acknowledgement, the answer delivered, under load, and redeliveries.

Run from the project root: ``.venv/bin/python -m bench.webhook_benchmark [--quick]``
(``make bench-webhook``). Prints the report and writes it to ``bench/webhook_report.md``, stamped
with the commit and the machine (:mod:`bench.report`).

Issue 5 promises that the connector stores a message and answers the webhook within ~200 ms, and
runs the Rasa turn afterwards. This starts the whole assistant (:class:`clinicbot.stack.Stack`,
sandbox fakes, its own SQLite file in a temporary directory, free ports), posts real
``ReceivedCallback`` payloads to ``POST /webhooks/zapi/webhook`` and measures:

- the HTTP round trip of each webhook against a trivial route of the same server (baseline);
- the time from the POST to the answer recorded by the fake Z-API (``momment``, its clock);
- both again with several patients writing at once, and the throughput;
- that every message got exactly one answer, and that a payload posted three times got one.

One poller thread reads everything the fake Z-API delivered every 20 ms and hands it to the
waiting patients: polling per patient would multiply the benchmark's own load on a 2-core machine
by the number of patients. After the run the SQLite file gives each message's stored, claimed and
answered times, which split the reply latency into its stages.
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench.conversations import POLL_SECONDS, Delivered, DeliveredLog
from bench.report import Stamp, command_line, header_lines, percentile, table
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN
from clinicbot.stack import MODEL_PATH, Stack
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.support.stack import sandbox_stack

REPORT_PATH = Path(__file__).with_name("webhook_report.md")
# FAQ turns and a greeting: no form state, no GestãoDS call, one answer each.
TEXTS = ("oi", "quanto custa a consulta?", "qual o endereço?")
ACK_TARGET_MS = 200.0
REPLY_TIMEOUT = 10.0  # a FAQ answer takes well under a second; this only bounds a loss
DUPLICATE_COPIES = 3
# Quiet time before the final count: a second turn for the same message would answer by then.
SETTLE_SECONDS = 3.0
PHASE_BUDGET_SECONDS = {"warm-up": 60.0, "sequential": 150.0, "concurrent": 120.0}
LOG_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|WARNING)\b|Traceback")


@dataclass(frozen=True)
class Config:
    sequential: int
    patients: int
    per_patient: int
    duplicate_rounds: int
    keep: bool


@dataclass(frozen=True)
class Target:
    rasa_url: str
    sandbox_url: str


@dataclass(frozen=True)
class Exchange:
    """One patient message: its acknowledgement and the first answer delivered after it."""

    phase: str
    phone: str
    text: str
    message_id: str
    sent_at: float  # epoch seconds just before the POST
    ack_ms: float
    http_status: int
    ack_status: str
    reply_at_ms: int | None

    @property
    def reply_ms(self) -> float | None:
        return None if self.reply_at_ms is None else self.reply_at_ms - self.sent_at * 1000


@dataclass(frozen=True)
class DuplicateRound:
    mode: str
    phone: str
    message_id: str
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class Stored:
    """What the database says about one inbound message and the answers linked to it."""

    inbound_rows: int
    status: str
    intent: str
    confidence: float | None
    created_ms: float
    claimed_ms: float | None
    answers: int
    answers_sent: int
    first_answer_ms: float | None  # when the first answer was enqueued


@dataclass
class Results:
    config: Config
    stamp: Stamp
    command: str
    stack_start_s: float = 0.0
    model: str = ""
    baseline_ms: list[float] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    concurrent_wall_s: float = 0.0
    duplicates: list[DuplicateRound] = field(default_factory=list)
    delivered: dict[str, list[Delivered]] = field(default_factory=dict)
    stored: dict[str, Stored] = field(default_factory=dict)
    logs: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    stopped_early: list[str] = field(default_factory=list)
    runtime_s: float = 0.0

    def phase(self, name: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.phase == name]


def phone_numbers() -> Iterator[str]:
    """Distinct Brazilian mobile numbers (13 digits, already normalised)."""
    return (f"55319{n:04d}8888" for n in itertools.count(1000))


def served_model(stack: Stack) -> str:
    """The model rasa serves. Raises when it has none: rasa then still acknowledges webhooks and
    drops every turn ("Ignoring message as there is no agent"), which would measure nothing."""
    answer = requests.get(
        f"http://127.0.0.1:{stack.ports.rasa}/status",
        params={"token": stack.settings().rasa_api_token},
        timeout=10,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"rasa serves no model (HTTP {answer.status_code}): see rasa.log")
    status = answer.json()
    trained = datetime.fromtimestamp(MODEL_PATH.stat().st_mtime, timezone.utc)
    return f"`{Path(status['model_file']).name}` (id {status['model_id']}, {trained:%H:%M} UTC)"


def measure_baseline(target: Target, count: int) -> list[float]:
    """Round trips of ``GET /webhooks/zapi/`` (the connector's health route), in ms."""
    timings = []
    with requests.Session() as session:
        for _ in range(count):
            start = time.perf_counter()
            answer = session.get(f"{target.rasa_url}/webhooks/zapi/", timeout=10)
            timings.append((time.perf_counter() - start) * 1000)
            answer.raise_for_status()
    return timings


def post_webhook(
    session: requests.Session, target: Target, payload: dict[str, Any]
) -> tuple[float, int, str]:
    """POST one callback as Z-API does; (round trip ms, HTTP status, the connector's status)."""
    start = time.perf_counter()
    answer = session.post(
        f"{target.rasa_url}/webhooks/zapi/webhook",
        json=payload,
        headers={"z-api-token": SANDBOX_ZAPI_INSTANCE_TOKEN},
        timeout=10,
    )
    elapsed = (time.perf_counter() - start) * 1000
    try:
        status = str(answer.json().get("status") or answer.json().get("error"))
    except ValueError:
        status = answer.text[:80]
    return elapsed, answer.status_code, status


def exchange(
    session: requests.Session,
    target: Target,
    delivered: DeliveredLog,
    phase: str,
    phone: str,
    text: str,
) -> Exchange:
    """Send ``text`` from ``phone`` and wait for the next message delivered to that phone."""
    before = delivered.count(phone)
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, phone, text_content(text))
    sent_at = time.time()
    ack_ms, http_status, ack_status = post_webhook(session, target, payload)
    reply = delivered.wait(phone, before + 1, REPLY_TIMEOUT) if http_status == 200 else None
    return Exchange(
        phase,
        phone,
        text,
        payload["messageId"],
        sent_at,
        ack_ms,
        http_status,
        ack_status,
        reply.at_ms if reply else None,
    )


def run_sequential(
    target: Target, delivered: DeliveredLog, phones: Iterator[str], phase: str, count: int
) -> tuple[list[Exchange], bool]:
    """``count`` messages one after another, each from a new patient, each answered before the
    next is sent; (exchanges, whether the phase's time budget ran out first)."""
    deadline = time.monotonic() + PHASE_BUDGET_SECONDS[phase]
    exchanges: list[Exchange] = []
    with requests.Session() as session:
        for index in range(count):
            if time.monotonic() > deadline:
                return exchanges, True
            text = TEXTS[index % len(TEXTS)]
            exchanges.append(exchange(session, target, delivered, phase, next(phones), text))
    return exchanges, False


def run_patient(
    target: Target,
    delivered: DeliveredLog,
    phone: str,
    texts: list[str],
    start: threading.Barrier,
    deadline: float,
) -> list[Exchange]:
    """One patient's conversation: each message waits for the answer to the previous one."""
    exchanges = []
    with requests.Session() as session:
        start.wait()
        for text in texts:
            if time.monotonic() > deadline:
                break
            exchanges.append(exchange(session, target, delivered, "concurrent", phone, text))
    return exchanges


def run_concurrent(
    target: Target, delivered: DeliveredLog, phones: Iterator[str], config: Config
) -> tuple[list[Exchange], float, bool]:
    """``patients`` conversations at once; (exchanges, wall seconds, budget ran out)."""
    deadline = time.monotonic() + PHASE_BUDGET_SECONDS["concurrent"]
    start = threading.Barrier(config.patients)
    conversations = [
        [TEXTS[(patient + index) % len(TEXTS)] for index in range(config.per_patient)]
        for patient in range(config.patients)
    ]
    began = time.monotonic()
    with ThreadPoolExecutor(config.patients) as pool:
        futures = [
            pool.submit(run_patient, target, delivered, next(phones), texts, start, deadline)
            for texts in conversations
        ]
        exchanges = [item for future in futures for item in future.result()]
    expected = config.patients * config.per_patient
    return exchanges, time.monotonic() - began, len(exchanges) < expected


def duplicate_round(
    target: Target, delivered: DeliveredLog, phone: str, simultaneous: bool
) -> DuplicateRound:
    """Post one payload :data:`DUPLICATE_COPIES` times, back to back on one connection (a
    gateway retrying) or from as many threads at once (redeliveries racing each other)."""
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, phone, text_content(TEXTS[1]))

    def post(session: requests.Session) -> str:
        _, http_status, status = post_webhook(session, target, payload)
        return f"{http_status} {status}"

    if simultaneous:
        start = threading.Barrier(DUPLICATE_COPIES)

        def racer() -> str:
            with requests.Session() as session:
                start.wait()
                return post(session)

        with ThreadPoolExecutor(DUPLICATE_COPIES) as pool:
            statuses = list(pool.map(lambda _: racer(), range(DUPLICATE_COPIES)))
    else:
        with requests.Session() as session:
            statuses = [post(session) for _ in range(DUPLICATE_COPIES)]
    delivered.wait(phone, 1, REPLY_TIMEOUT)
    mode = "simultaneous" if simultaneous else "back to back"
    return DuplicateRound(mode, phone, payload["messageId"], tuple(sorted(statuses)))


def run_phases(stack: Stack, config: Config, results: Results) -> None:
    target = Target(
        rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
        sandbox_url=f"http://127.0.0.1:{stack.ports.sandbox}",
    )
    phones = phone_numbers()
    progress(f"baseline: {config.sequential} x GET /webhooks/zapi/")
    results.baseline_ms = measure_baseline(target, config.sequential)
    with DeliveredLog(target.sandbox_url) as delivered:
        for phase, count in (("warm-up", len(TEXTS)), ("sequential", config.sequential)):
            progress(f"{phase}: {count} messages, one at a time")
            exchanges, ran_out = run_sequential(target, delivered, phones, phase, count)
            results.exchanges += exchanges
            if ran_out:
                results.stopped_early.append(phase)
        progress(f"concurrent: {config.patients} patients x {config.per_patient} messages")
        exchanges, results.concurrent_wall_s, ran_out = run_concurrent(
            target, delivered, phones, config
        )
        results.exchanges += exchanges
        if ran_out:
            results.stopped_early.append("concurrent")
        progress(f"duplicates: {config.duplicate_rounds} round(s) per mode")
        for _, simultaneous in itertools.product(range(config.duplicate_rounds), (False, True)):
            results.duplicates.append(
                duplicate_round(target, delivered, next(phones), simultaneous)
            )
        time.sleep(SETTLE_SECONDS)
        results.delivered = delivered.snapshot()


def _epoch_ms(value: str | None) -> float | None:
    """A SQLite timestamp (naive UTC text, see ``clinicbot.db.types``) as epoch ms."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp() * 1000


def read_database(path: Path) -> dict[str, Stored]:
    """Per inbound message id: its rows, status, intent and the answers linked to it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        inbound = connection.execute(
            "SELECT external_message_id, status, intent, confidence, created_at, claimed_at "
            "FROM conversation_messages WHERE direction = 'in' ORDER BY id"
        ).fetchall()
        answers = connection.execute(
            "SELECT in_reply_to, status, created_at FROM outbox_messages ORDER BY id"
        ).fetchall()
    by_message: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for reply_to, status, created_at in answers:
        by_message[reply_to].append((status, created_at))
    rows_per_id = Counter(row[0] for row in inbound)
    stored = {}
    for message_id, status, intent, confidence, created_at, claimed_at in inbound:
        linked = by_message.get(message_id, [])
        stored[message_id] = Stored(
            inbound_rows=rows_per_id[message_id],
            status=status,
            intent=intent or "",
            confidence=confidence,
            created_ms=_epoch_ms(created_at) or math.nan,
            claimed_ms=_epoch_ms(claimed_at),
            answers=len(linked),
            answers_sent=sum(status == "sent" for status, _ in linked),
            first_answer_ms=_epoch_ms(linked[0][1]) if linked else None,
        )
    return stored


def scan_logs(workdir: Path, samples: int = 6) -> dict[str, tuple[int, list[str]]]:
    """Per process: how many warning/error lines its log has, and the first distinct ones."""
    found = {}
    for log in sorted(workdir.glob("*.log")):
        problems = [
            line.strip()
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if LOG_PROBLEM.search(line)
        ]
        found[log.stem] = (len(problems), list(dict.fromkeys(problems))[:samples])
    return found


def run(config: Config, command: str) -> Results:
    """Start the stack, run every phase, stop it (always), then read its database and logs."""
    began = time.monotonic()
    results = Results(config, Stamp.capture(), command)
    workdir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    keep = config.keep
    try:
        stack = sandbox_stack(workdir)  # the e2e tests' stack: sandbox, SQLite, no rate limit
        progress(f"starting the stack (logs and database in {workdir})")
        try:
            stack.start()
            results.stack_start_s = time.monotonic() - began
            results.model = served_model(stack)
            run_phases(stack, config, results)
        finally:
            progress("stopping the stack")
            stack.stop()
        results.stored = read_database(workdir / "clinicbot.db")
        results.logs = scan_logs(workdir)
    except BaseException:
        keep = True  # the logs say what went wrong
        raise
    finally:
        if keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results.runtime_s = time.monotonic() - began
    return results


# --- statistics and report -----------------------------------------------------------------


def ms(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def latency_row(name: str, values: Sequence[float], digits: int = 1) -> list[str]:
    return [
        name,
        str(len(values)),
        *(ms(percentile(values, q), digits) for q in (50, 95, 99)),
        ms(max(values, default=math.nan), digits),
    ]


LATENCY_HEADERS = ("", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")


def acks(exchanges: Sequence[Exchange]) -> list[float]:
    return [e.ack_ms for e in exchanges if e.http_status == 200]


def replies(exchanges: Sequence[Exchange]) -> list[float]:
    return [e.reply_ms for e in exchanges if e.reply_ms is not None]


def stages(exchange: Exchange, stored: Stored | None) -> dict[str, float] | None:
    """Split one reply latency at the stored, claimed and enqueued times of its message."""
    if stored is None or exchange.reply_at_ms is None:
        return None
    if stored.claimed_ms is None or stored.first_answer_ms is None:
        return None
    sent_ms = exchange.sent_at * 1000
    return {
        "webhook → stored": stored.created_ms - sent_ms,
        "stored → turn starts (claimed)": stored.claimed_ms - stored.created_ms,
        "Rasa turn → answer enqueued": stored.first_answer_ms - stored.claimed_ms,
        "enqueued → delivered to Z-API": exchange.reply_at_ms - stored.first_answer_ms,
    }


def stage_medians(results: Results, phase: str) -> dict[str, float]:
    split = [stages(e, results.stored.get(e.message_id)) for e in results.phase(phase)]
    complete = [s for s in split if s is not None]
    if not complete:
        return {}
    return {name: statistics.median(s[name] for s in complete) for name in complete[0]}


@dataclass(frozen=True)
class Integrity:
    """Loss and duplicates over a set of exchanges, from the fake Z-API and the database."""

    sent: int
    acknowledged: int
    unanswered: list[str]
    not_stored: list[str]
    extra_rows: list[str]
    answer_counts: Counter[int]
    not_processed: list[str]
    phone_mismatches: list[str]

    @property
    def clean(self) -> bool:
        problems = (self.unanswered, self.not_stored, self.extra_rows, self.not_processed)
        return not any(problems) and not self.phone_mismatches and set(self.answer_counts) == {1}


def integrity(results: Results, exchanges: Sequence[Exchange]) -> Integrity:
    by_phone: dict[str, int] = Counter(e.phone for e in exchanges)
    stored = [results.stored.get(e.message_id) for e in exchanges]
    return Integrity(
        sent=len(exchanges),
        acknowledged=sum(e.ack_status == "accepted" for e in exchanges),
        unanswered=[e.message_id for e in exchanges if e.reply_at_ms is None],
        not_stored=[e.message_id for e, s in zip(exchanges, stored, strict=True) if s is None],
        extra_rows=[
            e.message_id
            for e, s in zip(exchanges, stored, strict=True)
            if s is not None and s.inbound_rows > 1
        ],
        answer_counts=Counter(s.answers for s in stored if s is not None),
        not_processed=[
            f"{e.message_id} ({s.status}, {s.answers_sent}/{s.answers} answers sent)"
            for e, s in zip(exchanges, stored, strict=True)
            if s is not None and (s.status != "processed" or s.answers_sent != s.answers)
        ],
        phone_mismatches=[
            f"{phone}: {sent} sent, {len(results.delivered.get(phone, []))} delivered"
            for phone, sent in by_phone.items()
            if len(results.delivered.get(phone, [])) != sent
        ],
    )


def integrity_lines(name: str, check: Integrity) -> list[str]:
    counts = ", ".join(f"{n} answer(s): {c}" for n, c in sorted(check.answer_counts.items()))
    verdict = "OK: every message answered exactly once" if check.clean else "**PROBLEM**"
    lines = [
        f"- **{name}**: {check.sent} sent, {check.acknowledged} acknowledged `accepted`; "
        f"answers linked per message in the outbox: {counts or 'none'}. {verdict}."
    ]
    for label, items in (
        ("no answer delivered within the timeout", check.unanswered),
        ("not stored", check.not_stored),
        ("stored more than once", check.extra_rows),
        ("turn not processed or answer not sent", check.not_processed),
        ("delivered count ≠ sent count", check.phone_mismatches),
    ):
        if items:
            lines.append(f"  - **{label}** ({len(items)}): {', '.join(items[:8])}")
    return lines


def machine_lines(results: Results) -> list[str]:
    return header_lines(
        results.stamp,
        results.command,
        packages=("rasa", "rasa-sdk", "sanic"),
        extra=[
            f"- Run time: {results.runtime_s:.0f} s in all (stack start "
            f"{results.stack_start_s:.0f} s)",
            "- Stack: `clinicbot.stack.Stack` (sandbox GestãoDS + Z-API, action server, rasa, "
            "clinic service) on free ports, SQLite in a temporary directory, in-memory lock "
            f"store; model {results.model}",
        ],
    )


def method_lines(config: Config) -> list[str]:
    return [
        "## Method",
        "",
        f"- **Baseline**: {config.sequential} sequential `GET /webhooks/zapi/` (the connector's "
        "health route on the same rasa server), one keep-alive connection.",
        f"- **Sequential**: {config.sequential} `POST /webhooks/zapi/webhook` with real "
        "`ReceivedCallback` payloads (`received_callback` + `text_content`, header "
        f"`z-api-token`), each from a new phone, texts cycling {', '.join(map(repr, TEXTS))}; "
        "each waits for its answer before the next is posted, so no other benchmark traffic is in "
        f"flight during an acknowledgement. {len(TEXTS)} warm-up messages before them are not "
        "counted.",
        "- **ACK** = the HTTP round trip of the POST, seen by the client (`requests`, keep-alive).",
        "- **Reply** = from just before the POST to the fake Z-API's `momment` of the first "
        "message it delivered to that phone afterwards. One poller thread reads "
        f"`/__sandbox/zapi/messages?after=…` every {POLL_SECONDS * 1000:.0f} ms for all phones "
        "(not one poller per patient, which would add the benchmark's own load to the CPUs the "
        "server runs on).",
        "- **Stages** come from the SQLite file after the run: the inbound row's `created_at` "
        "(stored) and `claimed_at` (turn starts), the first `outbox_messages` row linked by "
        "`in_reply_to` (answer enqueued), and the fake's `momment` (delivered). Medians per stage.",
        f"- **Concurrent**: {config.patients} patients (threads) start together, each sends "
        f"{config.per_patient} messages, each after the answer to its previous one.",
        f"- **Duplicates**: one payload posted {DUPLICATE_COPIES}× back to back on one connection "
        f"and {DUPLICATE_COPIES}× from as many threads at once, {config.duplicate_rounds} "
        "round(s) each.",
        f"- **Loss / duplicates**: after a {SETTLE_SECONDS:.0f} s quiet period, messages delivered "
        "per phone vs sent, inbound rows per message id, outbox answers per message id and their "
        "status.",
    ]


def ack_section(results: Results) -> list[str]:
    baseline = results.baseline_ms
    base_p50 = percentile(baseline, 50)
    rows = [latency_row("baseline `GET /webhooks/zapi/`", baseline)]
    ratios = []
    for label, phase in (
        ("webhook POST, sequential", "sequential"),
        ("webhook POST, under load", "concurrent"),
    ):
        values = acks(results.phase(phase))
        rows.append(latency_row(label, values))
        within = sum(value <= ACK_TARGET_MS for value in values)
        ratios.append(
            f"- {label}: p50 = {percentile(values, 50) / base_p50:.1f}× the baseline p50; "
            f"{within}/{len(values)} acknowledgements ≤ {ACK_TARGET_MS:.0f} ms"
        )
    return [
        "## Webhook acknowledgement (HTTP round trip)",
        "",
        *table(LATENCY_HEADERS, rows),
        "",
        *ratios,
    ]


def reply_section(results: Results) -> list[str]:
    rows = []
    for phase in ("sequential", "concurrent"):
        exchanges = results.phase(phase)
        rows.append(latency_row(f"{phase}, all", replies(exchanges), 0))
        for text in TEXTS:
            chosen = [e for e in exchanges if e.text == text]
            rows.append(latency_row(f"{phase}, “{text}”", replies(chosen), 0))
    warm = results.phase("warm-up")
    cold = ", ".join(f"“{e.text}” {ms(e.reply_ms, 0)} ms (ACK {ms(e.ack_ms)})" for e in warm)
    return [
        "## Patient message → WhatsApp answer delivered",
        "",
        *table(LATENCY_HEADERS, rows),
        "",
        f"First messages after start (warm-up, not counted): {cold}.",
    ]


def stage_section(results: Results) -> list[str]:
    sequential = stage_medians(results, "sequential")
    concurrent = stage_medians(results, "concurrent")
    rows = [[name, ms(value, 0), ms(concurrent.get(name), 0)] for name, value in sequential.items()]
    rows.append(
        [
            "**reply p50**",
            ms(percentile(replies(results.phase("sequential")), 50), 0),
            ms(percentile(replies(results.phase("concurrent")), 50), 0),
        ]
    )
    return [
        "## Where the reply time goes (medians)",
        "",
        *table(("stage", "sequential ms", "concurrent ms"), rows),
        "",
        "Stage medians need not add up to the reply p50 exactly (medians of parts).",
    ]


def nlu_lines(results: Results) -> list[str]:
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for exchange in results.exchanges:
        stored = results.stored.get(exchange.message_id)
        if stored is not None:
            seen[exchange.text][stored.intent or "(none)"] += 1
    parts = [
        f"“{text}” → " + ", ".join(f"`{intent}` ×{n}" for intent, n in counts.most_common())
        for text, counts in seen.items()
    ]
    return [f"Intents recorded for the messages: {'; '.join(parts)}."]


def concurrent_section(results: Results) -> list[str]:
    exchanges = results.phase("concurrent")
    answered = [e for e in exchanges if e.reply_at_ms is not None]
    throughput = len(answered) / results.concurrent_wall_s if results.concurrent_wall_s else 0.0
    config = results.config
    return [
        f"## Concurrent: {config.patients} patients × {config.per_patient} messages",
        "",
        f"- Wall time {results.concurrent_wall_s:.1f} s for {len(exchanges)} messages: "
        f"**{throughput:.1f} answered messages/s** (each patient waits for its answer).",
        f"- ACK p50/p95 {ms(percentile(acks(exchanges), 50))} / "
        f"{ms(percentile(acks(exchanges), 95))} ms; reply p50/p95 "
        f"{ms(percentile(replies(exchanges), 50), 0)} / "
        f"{ms(percentile(replies(exchanges), 95), 0)} ms (tables above).",
    ]


def duplicate_clean(results: Results, round_: DuplicateRound) -> bool:
    """The payload posted several times was stored once and answered once."""
    stored = results.stored.get(round_.message_id)
    delivered = len(results.delivered.get(round_.phone, []))
    return delivered == 1 and stored is not None and stored.inbound_rows == 1


def duplicate_section(results: Results) -> list[str]:
    rows = []
    for round_ in results.duplicates:
        stored = results.stored.get(round_.message_id)
        rows.append(
            [
                round_.mode,
                "; ".join(f"{s} ×{n}" for s, n in Counter(round_.statuses).items()),
                str(stored.inbound_rows if stored else 0),
                str(stored.answers if stored else 0),
                str(len(results.delivered.get(round_.phone, []))),
                "OK" if duplicate_clean(results, round_) else "**PROBLEM**",
            ]
        )
    return [
        f"## Duplicate delivery: one payload posted {DUPLICATE_COPIES}×",
        "",
        *table(("mode", "webhook answers", "stored rows", "outbox answers", "delivered", ""), rows),
    ]


def integrity_section(results: Results) -> list[str]:
    lines = ["## Loss and duplicates", ""]
    for phase in ("warm-up", "sequential", "concurrent"):
        lines += integrity_lines(phase, integrity(results, results.phase(phase)))
    if results.stopped_early:
        lines.append(f"- **Stopped early (time budget)**: {', '.join(results.stopped_early)}")
    return lines


def log_section(results: Results) -> list[str]:
    lines = ["## Warnings and errors in the processes' logs", ""]
    for name, (count, samples) in results.logs.items():
        lines.append(f"- `{name}.log`: {count} line(s)")
        lines += [f"  - `{sample[:220]}`" for sample in samples]
    return lines


def acks_before_answer(results: Results) -> tuple[int, int]:
    """Of the measured POSTs whose answer has an enqueue time: how many acknowledgements the
    client had received before that time (both clocks are this machine's), and how many."""
    early = timed = 0
    for exchange in results.phase("sequential") + results.phase("concurrent"):
        stored = results.stored.get(exchange.message_id)
        if exchange.http_status != 200 or stored is None or stored.first_answer_ms is None:
            continue
        timed += 1
        early += exchange.sent_at * 1000 + exchange.ack_ms < stored.first_answer_ms
    return early, timed


def reading(results: Results) -> list[str]:
    """A plain reading of the figures, written from them."""
    sequential = acks(results.phase("sequential"))
    loaded = acks(results.phase("concurrent"))
    all_acks = sequential + loaded
    within = sum(value <= ACK_TARGET_MS for value in all_acks)
    verdict = "stays" if within == len(all_acks) else "does **not** always stay"
    early, timed = acks_before_answer(results)
    lines = [
        f"- The acknowledgement {verdict} within {ACK_TARGET_MS:.0f} ms: {within}/{len(all_acks)} "
        f"POSTs (p99 {ms(percentile(sequential, 99))} ms one at a time, "
        f"{ms(percentile(loaded, 99))} ms with {results.config.patients} patients; max "
        f"{ms(max(all_acks, default=math.nan))} ms), against a p50 of "
        f"{ms(percentile(results.baseline_ms, 50))} ms for the trivial GET. {early}/{timed} "
        "acknowledgements reached the client before the answer to their message was enqueued.",
    ]
    medians = stage_medians(results, "sequential")
    if medians:
        top = max(medians, key=medians.__getitem__)
        total = sum(medians.values())
        lines.append(
            f"- The answer takes p50 {ms(percentile(replies(results.phase('sequential')), 50), 0)}"
            f" ms one at a time; the largest part is *{top}* ({ms(medians[top], 0)} ms, "
            f"{medians[top] / total:.0%} of the summed stage medians)."
        )
    greeting = replies([e for e in results.phase("sequential") if e.text == TEXTS[0]])
    faq = replies([e for e in results.phase("sequential") if e.text != TEXTS[0]])
    lines.append(
        f"- Answer p50 for the FAQ questions {ms(percentile(faq, 50), 0)} ms vs "
        f"{ms(percentile(greeting, 50), 0)} ms for the greeting “{TEXTS[0]}”."
    )
    concurrent = replies(results.phase("concurrent"))
    lines.append(
        f"- With {results.config.patients} patients at once the answer p50 becomes "
        f"{ms(percentile(concurrent, 50), 0)} ms (p95 {ms(percentile(concurrent, 95), 0)}), "
        f"while the acknowledgement p95 goes from {ms(percentile(sequential, 95))} to "
        f"{ms(percentile(loaded, 95))} ms."
    )
    checks = [integrity(results, results.phase(p)) for p in ("sequential", "concurrent")]
    duplicates_ok = all(duplicate_clean(results, round_) for round_ in results.duplicates)
    if all(check.clean for check in checks) and duplicates_ok:
        lines.append(
            "- No message was lost or answered twice, and each redelivered payload got one answer."
        )
    else:
        lines.append("- **Loss or duplicates were found: see the sections above.**")
    return lines


def report(results: Results) -> str:
    sections = [
        ["# Z-API webhook benchmark", "", *machine_lines(results)],
        method_lines(results.config),
        ["## Reading", "", *reading(results)],
        ack_section(results),
        [*reply_section(results), "", *nlu_lines(results)],
        stage_section(results),
        concurrent_section(results),
        integrity_section(results),
        duplicate_section(results),
        log_section(results),
        ["Regenerate: `.venv/bin/python -m bench.webhook_benchmark` (`make bench-webhook`)."],
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 sequential, 8×3 concurrent")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args(argv)
    if args.quick:
        return Config(20, 8, 3, 1, args.keep)
    return Config(100, 8, 10, 3, args.keep)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    if not MODEL_PATH.exists():
        print(f"no trained model at {MODEL_PATH}: run `make train` first", file=sys.stderr)
        return 1
    command = command_line("bench.webhook_benchmark", sys.argv[1:] if argv is None else argv)
    text = report(run(config, command))
    print(text)
    REPORT_PATH.write_text(text, encoding="utf-8")
    progress(f"report written to {REPORT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
