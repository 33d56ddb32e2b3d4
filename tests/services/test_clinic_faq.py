from clinicbot.services.clinic import Clinic, faq_reply, load_clinic
from tests.actions.harness import rendered


def faq_answer(intent: str, clinic: Clinic, asked_insurer: str | None = None) -> str | None:
    """The FAQ answer as the patient reads it (its ``domain.yml`` response, filled)."""
    reply = faq_reply(intent, clinic, asked_insurer)
    return None if reply is None else rendered({"response": reply.response, **reply.variables})


def test_every_faq_intent_is_answered_from_clinic_settings():
    clinic = load_clinic()
    assert clinic.address in faq_answer("localizacao", clinic)
    assert clinic.opening_hours[0] in faq_answer("horario_funcionamento", clinic)
    assert all(name in faq_answer("convenios", clinic) for name in clinic.insurers)
    assert clinic.prices[0] in faq_answer("valores", clinic)
    assert all(name in faq_answer("especialidades", clinic) for name in clinic.specialties)


def test_asked_insurer_gets_a_yes_or_the_list():
    clinic = load_clinic()
    assert faq_answer("convenios", clinic, asked_insurer="unimed").startswith("Sim")
    refused = faq_answer("convenios", clinic, asked_insurer="Hapvida")
    assert "não atendemos Hapvida" in refused and "Unimed" in refused


def test_non_faq_intent_has_no_answer():
    assert faq_reply("agendar_consulta", load_clinic()) is None
