"""Load under a fault, and the tally of what became of every message (``tests/faults`` and
``make bench-faults`` alike).

Patients write FAQ questions (one answer each, no form state) at a steady pace while a fault
is injected. A message the webhook does not acknowledge is redelivered with the same id until it
is, as Z-API does. When everything has settled, each acknowledged message is looked up in the
stack's database (its answers are the outbox rows ``in_reply_to`` it) and in what the sandbox
Z-API delivered:

- *answered*: exactly one answer reached the patient;
- *duplicated*: answers beyond the first, and deliveries beyond the outbox's rows;
- *lost*: acknowledged and never answered (nor apologised for);
- *apologised*: its turn kept failing and the patient got the one apology instead.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine

from clinicbot.services.templates import TURN_FAILED_APOLOGY
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.stack import Service, Stack
from clinicbot.whatsapp.inbox import STALE_CLAIM
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.support.whatsapp import WhatsAppPatient

# The fault stack's configuration (with its own PostgreSQL and Redis): time compressed through
# configuration. The outbox retries every half second, turns are retried within seconds,
# uncertain bookings are checked every second, GestãoDS requests time out after 2 s.
FAULTS_ENV = {
    "OUTBOX_RETRY_MAX_SECONDS": "0.5",
    "TURN_RETRY_ATTEMPTS": "6",  # waits of 1, 2, 4, 4, 4 s (+ up to 1 s each)
    "TURN_RETRY_INITIAL_SECONDS": "1",
    "TURN_RETRY_MAX_SECONDS": "4",
    "SCHEDULER_POLL_SECONDS": "1",
    "BOOKING_CHECK_INTERVAL_SECONDS": "1",
    "BOOKING_CHECK_WINDOW_SECONDS": "15",
    "GESTAODS_TIMEOUT_SECONDS": "2",
    "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
}
QUESTION = "qual o endereço de vcs?"
ANSWER = "Estamos na"  # how action_responder_faq's answer to QUESTION starts
REDELIVERY_SECONDS = 0.5
SETTLE_SECONDS = 150.0


@dataclass
class Tally:
    """What became of the messages of one fault."""

    fault: str
    sent: int = 0
    acknowledged: int = 0
    answered: int = 0
    duplicated: int = 0
    lost: int = 0
    apologised: int = 0
    bookings_duplicated: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Every message acknowledged and answered once; nothing lost or doubled."""
        return (
            self.sent == self.acknowledged == self.answered + self.apologised
            and self.duplicated == self.lost == self.bookings_duplicated == 0
        )


class FaqLoad:
    """``patients`` × ``messages`` FAQ questions, one per patient every ``pace`` seconds."""

    def __init__(
        self, stack: Stack, patients: Sequence[WhatsAppPatient], messages: int, pace: float
    ) -> None:
        self.stack = stack
        self.patients = list(patients)
        self.messages = messages
        self.pace = pace
        self.sent: dict[str, str] = {}  # message id -> phone
        self.acknowledged: set[str] = set()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self) -> FaqLoad:
        self._thread = threading.Thread(target=self._run, name="faq-load", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = SETTLE_SECONDS) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._failure is not None:
            raise self._failure
        assert not self._thread.is_alive(), "the load did not finish sending"

    @property
    def done_sending(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def _run(self) -> None:
        try:
            for _ in range(self.messages):
                started = time.monotonic()
                senders = [
                    threading.Thread(target=self._deliver, args=(patient,))
                    for patient in self.patients
                ]
                for sender in senders:
                    sender.start()
                for sender in senders:
                    sender.join()
                time.sleep(max(0.0, self.pace - (time.monotonic() - started)))
        except BaseException as error:  # surfaced by join()
            self._failure = error

    def _deliver(self, patient: WhatsAppPatient) -> None:
        """Post one question until the webhook acknowledges it (same id on every attempt)."""
        payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, patient.phone, text_content(QUESTION))
        message_id = str(payload["messageId"])
        self.sent[message_id] = patient.phone
        give_up = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < give_up:
            try:
                if patient.post(payload).status_code == 200:
                    self.acknowledged.add(message_id)
                    return
            except requests.RequestException:
                pass  # rasa is down or restarting: Z-API would try again
            time.sleep(REDELIVERY_SECONDS)

    def settled(self, database: Engine) -> bool:
        """Every acknowledged message's turn is over and its answers left the outbox."""
        if not self.done_sending:
            return False
        ids = sorted(self.acknowledged)
        phones = sorted({patient.phone for patient in self.patients})
        with database.connect() as connection:
            finished = connection.execute(
                text(
                    "SELECT COUNT(*) FROM conversation_messages WHERE direction = 'in' "
                    "AND status IN ('processed', 'dead', 'throttled') "
                    "AND external_message_id IN :ids"
                ).bindparams(_expanding("ids")),
                {"ids": ids},
            ).scalar()
            pending = connection.execute(
                text(
                    "SELECT COUNT(*) FROM outbox_messages "
                    "WHERE phone IN :phones AND status IN ('pending', 'sending')"
                ).bindparams(_expanding("phones")),
                {"phones": phones},
            ).scalar()
        return finished == len(ids) and pending == 0

    def only_orphans_left(self, database: Engine, since: datetime) -> bool:
        """The only unfinished messages are orphans, ``processing`` under a claim taken before
        ``since`` (by a process that then lost its database, or was killed), and the later
        messages of their patients, which wait for them (a patient's turns run in order)."""
        if not self.done_sending:
            return False
        with database.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT phone, status, claimed_at FROM conversation_messages "
                    "WHERE direction = 'in' AND status NOT IN ('processed', 'dead', 'throttled') "
                    "AND external_message_id IN :ids"
                ).bindparams(_expanding("ids")),
                {"ids": sorted(self.acknowledged)},
            ).all()
        orphaned_phones = {
            row.phone
            for row in rows
            if row.status == "processing"
            and row.claimed_at is not None
            and _aware(row.claimed_at) < since
        }
        return bool(orphaned_phones) and all(row.phone in orphaned_phones for row in rows)

    def tally(self, fault: str, database: Engine, seconds: float) -> Tally:
        return tally_messages(
            fault, database, self.patients, self.sent, self.acknowledged, seconds=seconds
        )


def tally_messages(
    fault: str,
    database: Engine,
    patients: Sequence[WhatsAppPatient],
    sent: Collection[str],
    acknowledged: Collection[str],
    *,
    seconds: float = 0.0,
    one_answer: bool = True,
) -> Tally:
    """What became of the messages ``sent`` (ids) by ``patients``, ``acknowledged`` by the
    webhook. ``one_answer``: each message has exactly one answer (FAQ); otherwise a message
    may have several, and only the same text twice counts as a duplicate."""
    result = Tally(
        fault=fault, sent=len(sent), acknowledged=len(acknowledged), seconds=round(seconds, 1)
    )
    phones = sorted({patient.phone for patient in patients})
    with database.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT in_reply_to, text FROM outbox_messages WHERE in_reply_to IN :ids "
                "ORDER BY id"
            ).bindparams(_expanding("ids")),
            {"ids": sorted(sent) or [""]},
        ).all()
        outbox_per_phone = dict(
            connection.execute(
                text(
                    "SELECT phone, COUNT(*) FROM outbox_messages "
                    "WHERE phone IN :phones AND status IN ('sent', 'delivered', 'read') "
                    "GROUP BY phone"
                ).bindparams(_expanding("phones")),
                {"phones": phones},
            ).all()
        )
    answers: dict[str, list[str]] = {}
    for row in rows:
        answers.setdefault(row.in_reply_to, []).append(row.text)
    for message_id in acknowledged:
        texts = answers.get(message_id, [])
        if not texts:
            result.lost += 1
        elif texts == [TURN_FAILED_APOLOGY]:
            result.apologised += 1
        else:
            result.answered += 1
            extra = len(texts) - 1 if one_answer else len(texts) - len(set(texts))
            result.duplicated += extra
            if extra:
                twice = next(each for each in texts if texts.count(each) > 1 or one_answer)
                result.notes.append(f"answered twice: {twice[:50]!r}")
            if one_answer and ANSWER not in texts[0]:
                result.notes.append(f"unexpected answer: {texts[0][:60]!r}")
    for patient in patients:
        delivered = len(delivered_to(patient))
        result.duplicated += max(0, delivered - int(outbox_per_phone.get(patient.phone, 0)))
    return result


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


def delivered_to(patient: WhatsAppPatient) -> list[dict[str, Any]]:
    """Everything the sandbox Z-API ever delivered to ``patient``."""
    answer = requests.get(
        f"{patient.sandbox_url}/__sandbox/zapi/messages",
        params={"phone": patient.phone, "after": 0},
        timeout=5,
    ).json()
    return list(answer["messages"])


def wait_until(
    condition: Callable[[], Any], deadline: float = SETTLE_SECONDS, step: float = 0.2
) -> Any:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError(f"not reached within {deadline} s")


def service(stack: Stack, name: str) -> Service:
    return next(each for each in stack.services if each.name == name)


def kill(process: Service) -> None:
    """``kill -9`` of one of the stack's processes."""
    assert process.process is not None and process.process.poll() is None
    os.kill(process.process.pid, signal.SIGKILL)
    process.process.wait(timeout=30)


def answering(process: Service) -> bool:
    try:
        return requests.get(process.ready_url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def supervise_until(
    stack: Stack, done: Callable[[], Any], deadline: float = SETTLE_SECONDS
) -> None:
    """Run the stack's supervisor (what ``make run`` does: a process that exits is started
    again) until ``done()``. It runs in this, the main thread: a child started from another
    thread would be stopped when that thread ends (``PR_SET_PDEATHSIG`` is per thread)."""
    stop = threading.Event()
    reached = threading.Event()

    def watch() -> None:
        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up:
            if done():
                reached.set()
                break
            time.sleep(0.2)
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert stack.supervise(stop) == 0
    watcher.join()
    assert reached.is_set(), f"not reached within {deadline} s"


def database_of(stack: Stack) -> Engine:
    return create_engine(stack.env["DATABASE_URL"], pool_pre_ping=True)


def double_bookings(sandbox_url: str) -> int:
    """Appointments beyond the first on any slot of the sandbox agenda (active ones)."""
    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    slots: dict[str, int] = {}
    for appointment in state["appointments"]:
        if not appointment["cancelado"]:
            slots[appointment["starts_at"]] = slots.get(appointment["starts_at"], 0) + 1
    return sum(count - 1 for count in slots.values() if count > 1)


def faq_under_fault(
    stack: Stack,
    database: Engine,
    fault: str,
    patients: Sequence[WhatsAppPatient],
    inject: Callable[[], None],
    *,
    messages: int = 6,
    pace: float = 1.0,
    recover: Callable[[Callable[[], bool]], None] | None = None,
) -> Tally:
    """Run a :class:`FaqLoad`, ``inject`` the fault once the first round is acknowledged, and
    tally when everything has settled (:func:`settle_with_orphans`). ``recover(done)`` first
    brings the stack back when the fault needs it (:func:`supervise_until` restarting a killed
    process)."""
    started = time.monotonic()
    load = FaqLoad(stack, patients, messages, pace).start()
    wait_until(lambda: len(load.acknowledged) >= len(patients), deadline=60)
    inject()
    since = stack.clock_now()
    if recover is not None:
        recover(lambda: load.settled(database))
    settle_with_orphans(stack, database, load, since)
    load.join()
    result = load.tally(fault, database, time.monotonic() - started)
    result.bookings_duplicated = double_bookings(patients[0].sandbox_url)
    return result


def settle_with_orphans(
    stack: Stack, database: Engine, load: FaqLoad, since: datetime, deadline: float = SETTLE_SECONDS
) -> None:
    """Wait until ``load`` settled. A turn claimed before the fault (``since``) and still
    ``processing`` when nothing but it and its patient's later messages is left belongs to a
    process that lost it; recovery takes it over once its claim is :data:`STALE_CLAIM` old: the
    clock is moved that far (at most every 10 s) instead of waiting for it."""
    moved_at = -math.inf

    def settled() -> bool:
        nonlocal moved_at
        if load.settled(database):
            return True
        if time.monotonic() - moved_at > 10 and load.only_orphans_left(database, since):
            stack.set_clock(stack.clock_now() + STALE_CLAIM + timedelta(seconds=5))
            moved_at = time.monotonic()
        return False

    wait_until(settled, deadline)


def _aware(moment: datetime | str) -> datetime:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
