"""Simulated WhatsApp patients holding whole conversations with a running stack, for benchmarks.

A :class:`Patient` walks a :data:`FULL_CONVERSATION` (greeting, a price question, booking with
the CPF, cancelling what was booked) through the Z-API webhook, each message after the answer
to the previous one, as a person on WhatsApp would, and times every answer: from just before the
webhook POST to the fake Z-API's ``momment`` of the answer (its clock, the same machine's).

Answers are recognised by content, not by counting messages: a step names a pattern its
answer's last message matches (the day menu, "consulta está marcada", ...). A step whose answer
does not come within :data:`REPLY_TIMEOUT`, or comes but says something else, is an error, and
the patient stops there (the conversation is off its script).

One :class:`DeliveredLog` thread polls everything the fake Z-API delivered for all patients
(polling per patient would add the benchmark's own load to the CPUs the server runs on).

Usage (see :mod:`bench.e2e_benchmark`)::

    agenda = sandbox_agenda(sandbox_url)
    with DeliveredLog(sandbox_url) as delivered:
        patients = [Patient.register(agenda, phone, rasa_url, delivered) for phone in phones]
        outcomes = run_patients(patients, FULL_CONVERSATION)
"""

from __future__ import annotations

import re
import secrets
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import requests
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import (
    SANDBOX_GESTAODS_TOKEN,
    SANDBOX_ZAPI_INSTANCE_ID,
    SANDBOX_ZAPI_INSTANCE_TOKEN,
)
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content

POLL_SECONDS = 0.02
REPLY_TIMEOUT = 120.0  # an answer later than this counts as lost (32 patients on stock Rasa: ~40 s)
# Once something other than the expected answer arrived, how long to wait for the rest of it.
WRONG_ANSWER_GRACE = 3.0
BIRTH_DATE = date(1990, 5, 17)
MENU_LINE = re.compile(r"^(\d+)\. .+$", re.MULTILINE)


def progress(message: str) -> None:
    """A timestamped progress line on stderr (stdout carries the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Delivered:
    """One message the fake Z-API accepted, i.e. what the patient's WhatsApp would show."""

    seq: int
    phone: str
    at_ms: int  # the fake's ``momment``: epoch milliseconds when it recorded the message
    text: str = ""


class DeliveredLog:
    """Everything the fake Z-API delivered, fetched by one thread every :data:`POLL_SECONDS`."""

    def __init__(self, sandbox_url: str) -> None:
        self._url = f"{sandbox_url}/__sandbox/zapi/messages"
        self._by_phone: dict[str, list[Delivered]] = defaultdict(list)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zapi-poller", daemon=True)
        self._last = 0

    def __enter__(self) -> DeliveredLog:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def count(self, phone: str) -> int:
        with self._changed:
            return len(self._by_phone[phone])

    def wait(self, phone: str, count: int, timeout: float) -> Delivered | None:
        """The ``count``-th message delivered to ``phone`` (1-based), or None on timeout."""
        with self._changed:
            if self._changed.wait_for(lambda: len(self._by_phone[phone]) >= count, timeout):
                return self._by_phone[phone][count - 1]
            return None

    def since(self, phone: str, count: int) -> list[Delivered]:
        """The messages delivered to ``phone`` after its first ``count``."""
        with self._changed:
            return list(self._by_phone[phone][count:])

    def wait_matching(
        self, phone: str, after: int, pattern: re.Pattern[str], timeout: float
    ) -> tuple[Delivered | None, list[Delivered]]:
        """The first message to ``phone`` after its first ``after`` that matches ``pattern``,
        and every message delivered after ``after`` meanwhile. Gives up ``timeout`` seconds
        from now, or :data:`WRONG_ANSWER_GRACE` after a message that does not match."""
        give_up = time.monotonic() + timeout
        graced = False
        with self._changed:
            while True:
                new = self._by_phone[phone][after:]
                for message in new:
                    if pattern.search(message.text):
                        return message, list(new)
                if new and not graced:
                    give_up, graced = min(give_up, time.monotonic() + WRONG_ANSWER_GRACE), True
                left = give_up - time.monotonic()
                if left <= 0:
                    return None, list(new)
                self._changed.wait(left)

    def snapshot(self) -> dict[str, list[Delivered]]:
        self._fetch()
        with self._changed:
            return {phone: list(messages) for phone, messages in self._by_phone.items()}

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    self._fetch(session)
                except requests.RequestException as error:  # a lost poll: the next one catches up
                    progress(f"poll of the fake Z-API failed: {error}")

    def _fetch(self, session: requests.Session | None = None) -> None:
        answer = (session or requests).get(self._url, params={"after": self._last}, timeout=5)
        with self._changed:
            for message in answer.json()["messages"]:
                if message["seq"] <= self._last:
                    continue
                self._last = message["seq"]
                self._by_phone[message["phone"]].append(
                    Delivered(
                        message["seq"],
                        message["phone"],
                        message["momment"],
                        str(message.get("message") or ""),
                    )
                )
            self._changed.notify_all()


def sandbox_agenda(sandbox_url: str) -> GestaoDSClient:
    """A GestãoDS client on the sandbox agenda, to register the simulated patients."""
    return GestaoDSClient(base_url=sandbox_url, token=SANDBOX_GESTAODS_TOKEN, cache_ttl=0)


def phone_numbers(prefix: str | None = None) -> Iterator[str]:
    """Distinct Brazilian mobile numbers (13 digits, normalised). A random ``prefix`` (two
    digits) by default, so two runs against shared Redis locks never share a patient."""
    area = prefix or f"{secrets.randbelow(90) + 10}"
    return (f"55{area}9{n:08d}" for n in range(10_000_000, 100_000_000))


def menu_options(text: str) -> list[str]:
    """The numbers of a numbered menu's ``N. option`` lines."""
    return MENU_LINE.findall(text)


@dataclass(frozen=True)
class Step:
    """One patient message and what its answer must say.

    ``say`` is the text, or a function of the patient (its CPF, the last answer's menu).
    ``expect`` is searched in each message delivered after the POST (case-insensitive).
    """

    name: str
    say: str | Callable[[Patient], str]
    expect: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.expect, re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Exchange:
    """One message sent and its answer (``reply_ms`` None: none came or it was wrong)."""

    step: str
    sent_at: float  # epoch seconds just before the POST
    ack_ms: float
    http_status: int
    reply_ms: float | None
    error: str | None = None  # "lost", "wrong answer: ...", "webhook HTTP 500", ...

    @property
    def answered(self) -> bool:
        return self.error is None and self.reply_ms is not None


def _pick(patient: Patient, index: int) -> str:
    """Option ``index`` (wrapping) of the menu in the last answer."""
    options = menu_options(patient.last_answer)
    return options[index % len(options)] if options else "1"


def _day(patient: Patient) -> str:
    patient.days_offered = max(1, len(menu_options(patient.last_answer)))
    return _pick(patient, patient.number)


def _time(patient: Patient) -> str:
    """Patients starting together pick different (day, time) pairs, so that they do not race
    each other for one slot: day ``n mod D``, time ``n div D`` (distinct while n < D × T)."""
    return _pick(patient, patient.number // patient.days_offered)


# The conversation every simulated patient holds: 12 messages.
FULL_CONVERSATION: tuple[Step, ...] = (
    Step("greeting", "oi", r"assistente"),
    Step("faq: price", "quanto custa a consulta?", r"R\$"),
    Step("book: ask", "quero marcar uma consulta", r"cpf"),
    Step("book: cpf", lambda p: p.cpf, r"^1\. "),
    Step("book: day", _day, r"^1\. "),
    Step("book: time", _time, r"\bsim\b"),
    Step("book: confirm", "sim", r"consulta está marcada"),
    Step("cancel: ask", "quero cancelar minha consulta", r"cancelar"),
    Step("cancel: which", "1", r"motivo"),
    Step("cancel: reason", "vou estar viajando", r"cancelamento"),
    Step("cancel: confirm", "sim", r"cancelada"),
    Step("thanks", "obrigado", r"\w"),
)


@dataclass
class Patient:
    """One phone holding conversations; ``number`` spreads the menu choices of patients."""

    phone: str
    cpf: str
    number: int
    rasa_url: str
    delivered: DeliveredLog
    last_answer: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    days_offered: int = 1  # how many days the last day menu listed

    @classmethod
    def register(
        cls,
        agenda: GestaoDSClient,
        phone: str,
        number: int,
        rasa_url: str,
        delivered: DeliveredLog,
    ) -> Patient:
        """A patient the sandbox agenda knows by ``phone``, with a new CPF and no appointment."""
        cpf = CPF().generate()
        agenda.register_patient(
            name="Rita Teste Lopes",
            cpf=cpf,
            email="rita@example.org",
            phone=phone.removeprefix("55"),
            birth_date=BIRTH_DATE,
        )
        return cls(phone, cpf, number, rasa_url, delivered)

    def post(self, session: requests.Session, text: str) -> tuple[float, int]:
        """POST ``text`` to the webhook as Z-API does; (round trip ms, HTTP status)."""
        payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, self.phone, text_content(text))
        start = time.perf_counter()
        answer = session.post(
            f"{self.rasa_url}/webhooks/zapi/webhook",
            json=payload,
            headers={"z-api-token": SANDBOX_ZAPI_INSTANCE_TOKEN},
            timeout=REPLY_TIMEOUT,
        )
        return (time.perf_counter() - start) * 1000, answer.status_code

    def take(self, session: requests.Session, step: Step) -> Exchange:
        """Send one step's message and wait for its answer."""
        text = step.say if isinstance(step.say, str) else step.say(self)
        before = self.delivered.count(self.phone)
        sent_at = time.time()
        try:
            ack_ms, status = self.post(session, text)
        except requests.RequestException as error:
            return Exchange(step.name, sent_at, 0.0, 0, None, f"webhook {type(error).__name__}")
        if status != 200:
            return Exchange(step.name, sent_at, ack_ms, status, None, f"webhook HTTP {status}")
        match, arrived = self.delivered.wait_matching(
            self.phone, before, step.pattern, REPLY_TIMEOUT
        )
        self.last_answer = "\n".join(message.text for message in arrived)
        if match is None:
            why = "lost" if not arrived else f"wrong answer: {self.last_answer[:80]!r}"
            return Exchange(step.name, sent_at, ack_ms, status, None, why)
        return Exchange(step.name, sent_at, ack_ms, status, match.at_ms - sent_at * 1000)

    def converse(self, script: Sequence[Step], start: threading.Barrier | None = None) -> None:
        """Hold ``script`` once; stops at the first error (the rest would be off the script)."""
        with requests.Session() as session:
            if start is not None:
                start.wait()
            for step in script:
                exchange = self.take(session, step)
                self.exchanges.append(exchange)
                if not exchange.answered:
                    return


def run_patients(patients: Sequence[Patient], script: Sequence[Step]) -> float:
    """Every patient holds ``script`` at once (each its own thread, all starting together);
    the wall time in seconds from the start to the last answer."""
    return run_lanes([[patient] for patient in patients], script)


def run_lanes(lanes: Sequence[Sequence[Patient]], script: Sequence[Step]) -> float:
    """One thread per lane, all starting together; a lane's patients hold ``script`` one after
    the other (the next patient writes as soon as the previous conversation is over). The
    wall time in seconds from the start to the last answer."""
    start = threading.Barrier(len(lanes))

    def lane(patients: Sequence[Patient]) -> None:
        for index, patient in enumerate(patients):
            patient.converse(script, start if index == 0 else None)

    began = time.monotonic()
    with ThreadPoolExecutor(len(lanes)) as pool:
        for future in [pool.submit(lane, patients) for patients in lanes]:
            future.result()
    return time.monotonic() - began


def answered(patients: Sequence[Patient]) -> list[Exchange]:
    return [e for patient in patients for e in patient.exchanges if e.answered]


def errors(patients: Sequence[Patient]) -> list[Exchange]:
    return [e for patient in patients for e in patient.exchanges if not e.answered]
