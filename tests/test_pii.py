"""Masking of personal data before it is logged."""

from clinicbot.pii import mask_cpf, mask_email, mask_name, mask_phone, mask_text


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
