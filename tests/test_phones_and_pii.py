import pytest

from clinicbot.phones import normalize_phone
from clinicbot.pii import mask_cpf, mask_email, mask_name, mask_phone, mask_text


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


def test_masks_hide_personal_data():
    assert mask_cpf("390.533.447-05") == "***.***.*47-05"
    assert mask_cpf("123") == "***"
    assert mask_phone("5531988887777") == "55319****7777"
    assert mask_name("Ana Lima") == "A. L."
    assert mask_email("ana@exemplo.com") == "a***@exemplo.com"


def test_mask_text_hides_cpfs_and_phones_in_free_text():
    masked = mask_text("meu cpf é 390.533.447-05 e meu cel 5531988887777")
    assert "390.533" not in masked and "98888" not in masked
    assert "47-05" in masked
