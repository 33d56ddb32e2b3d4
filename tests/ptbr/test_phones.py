"""WhatsApp phone ids as one E.164 identity."""

import pytest

from clinicbot.ptbr.phones import normalize_phone, same_phone


@pytest.mark.parametrize(
    "raw",
    ["5531988887777", "+55 (31) 98888-7777", "553188887777", " 55 31 98888 7777 "],
)
def test_brazilian_mobile_variants_are_one_phone(raw):
    assert normalize_phone(raw) == "5531988887777"


def test_landline_keeps_eight_digits():
    assert normalize_phone("553130001000") == "553130001000"


@pytest.mark.parametrize("raw", ["123456789012345@lid", "120363019502650977-group"])
def test_non_phone_chat_ids_are_kept(raw):
    assert normalize_phone(raw) == raw


@pytest.mark.parametrize(
    ("sender", "registered", "same"),
    [
        ("5531988887777", "31988887777", True),
        ("553188887777", "31988887777", True),  # WhatsApp id without the ninth digit
        ("5531988887777", "(31) 8888-7777", True),  # registered before the ninth digit
        ("5531988887777", "+55 31 98888-7777", True),
        ("5531988887777", "31988887778", False),
        ("5531988887777", "21988887777", False),  # same number, other DDD
        ("5531988887777", None, False),
        ("5531988887777", "", False),
    ],
)
def test_sender_and_registered_phone(sender: str, registered: str | None, same: bool) -> None:
    assert same_phone(sender, registered) is same
