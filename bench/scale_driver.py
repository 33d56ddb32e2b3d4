"""Simulated patients for the scale benchmark: full WhatsApp conversations through the Z-API
webhook (greeting, FAQ, booking as a new patient), each turn timed until its answers were
delivered to the sandbox Z-API.

A patient is :class:`tests.support.whatsapp.WhatsAppPatient` (the end-to-end tests' own): a turn
is over when the database says the message was processed and nothing for the phone waits in the
outbox. Kept apart from the scale benchmark's phases so that another conversation driver can
replace it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from validate_docbr import CPF

from tests.support.whatsapp import Turns, WhatsAppPatient, menu_lines

BOOKED = "Prontinho"
FIRST_NAMES = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor")
LAST_NAMES = ("Souza Lima", "Pereira Alves", "Costa Rocha", "Martins Dias")


@dataclass(frozen=True)
class Turn:
    text: str
    seconds: float  # from the POST to the last answer delivered


@dataclass
class Conversation:
    phone: str
    turns: list[Turn] = field(default_factory=list)
    booked: bool = False
    failure: str = ""


def phone_numbers(prefix: int) -> Iterator[str]:
    """Distinct mobile numbers (13 digits); ``prefix`` (0-9) keeps phases apart."""
    return (f"55319{prefix}{n:03d}7777" for n in itertools.count(1))


def booking_script(index: int) -> list[str]:
    """What a new patient says to book, up to the day menu (name and e-mail vary by index)."""
    name = f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[index % len(LAST_NAMES)]}"
    return [
        "quero marcar uma consulta",
        CPF().generate(),
        "12/03/1988",
        name,
        f"paciente{index}@example.com",
    ]


class Timed:
    """A patient whose every turn is timed."""

    def __init__(self, patient: WhatsAppPatient, conversation: Conversation) -> None:
        self.patient = patient
        self.conversation = conversation

    def say(self, text: str) -> str:
        start = time.perf_counter()
        reply = self.patient.say(text)
        self.conversation.turns.append(Turn(text, time.perf_counter() - start))
        return reply


def converse(patient: WhatsAppPatient, index: int) -> Conversation:
    """Greeting, one FAQ, then booking as a new patient; the slot is picked by ``index`` so that
    concurrent patients mostly ask for different ones."""
    conversation = Conversation(patient.phone)
    timed = Timed(patient, conversation)
    try:
        timed.say("oi, bom dia")
        timed.say("qual o endereço da clínica?")
        reply = ""
        for text in booking_script(index):
            reply = timed.say(text)
        days = menu_lines(reply)
        if not days:
            conversation.failure = f"no day menu: {reply[:80]!r}"
            return conversation
        times = menu_lines(timed.say(str(index % len(days) + 1)))
        if not times:
            conversation.failure = "no time menu"
            return conversation
        timed.say(str(index // len(days) % len(times) + 1))
        conversation.booked = BOOKED in timed.say("sim")
    except AssertionError as error:  # a turn that did not finish, or failed
        conversation.failure = str(error)[:120]
    return conversation


def run_patients(
    url: str, sandbox_url: str, turns: Turns, phones: Iterator[str], count: int, first_index: int
) -> tuple[list[Conversation], float]:
    """``count`` patients conversing at once through ``url``; (conversations, wall seconds)."""
    start = threading.Barrier(count)
    numbers = [next(phones) for _ in range(count)]

    def one(index: int) -> Conversation:
        patient = WhatsAppPatient(numbers[index], url, sandbox_url, turns)
        start.wait()
        return converse(patient, first_index + index)

    began = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        conversations = list(pool.map(one, range(count)))
    return conversations, time.monotonic() - began
