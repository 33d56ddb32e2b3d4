"""Seeding the templates from the repository's defaults, on both databases."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import MessageTemplate, MessageTemplateVersion
from clinicbot.messages import store
from clinicbot.messages.defaults import default_templates


def current(engine: Engine, key: str) -> tuple[str, int, list[str] | None, str]:
    with session_scope(engine) as session:
        row = store.find(session, key)
        assert row is not None
        return row.text, row.version, row.variables, row.category


def test_every_default_is_seeded_once_with_its_variables(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.seed(session)
        store.seed(session)
        count = len(list(session.execute(select(MessageTemplate.id)).scalars()))
        versions = len(list(session.execute(select(MessageTemplateVersion.id)).scalars()))
    assert count == versions == len(default_templates())
    _, version, variables, category = current(engine, "utter_faq_localizacao")
    assert (version, variables, category) == (1, ["endereco", "como_chegar", "mapa"], "faq")
    assert current(engine, "channel.only_text")[3] == "channel"


def test_an_unedited_row_follows_the_repository_and_an_edited_one_is_kept(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.seed(session)
        # As a row seeded by an older release looks (its default has changed since).
        session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "utter_despedida")
            .values(text="Tchau antigo", variables=None, category="conversation")
        )
        store.save(session, "utter_de_nada", store.Edit("Imagina! 😊"), edited_by="ana")
    with session_scope(engine) as session:
        store.seed(session)
    assert current(engine, "utter_despedida")[:3] == (
        default_templates()["utter_despedida"].text,
        1,
        [],
    )
    assert current(engine, "utter_de_nada")[:2] == ("Imagina! 😊", 2)
    with session_scope(engine) as session:
        assert [v.text for v in store.history(session, "utter_despedida")] == [
            default_templates()["utter_despedida"].text
        ]


def test_a_row_edited_before_the_history_existed_starts_its_history(engine: Engine) -> None:
    """message_templates rows from before migration 0012 (the clinic's edits) become version 1."""
    with session_scope(engine) as session:
        session.add(
            MessageTemplate(
                key="notification.reminder",
                text="Lembrete: {nome}, {dia} às {hora}.",
                updated_by="clinic",
            )
        )
    with session_scope(engine) as session:
        store.seed(session)
        [first] = store.history(session, "notification.reminder")
    assert first.text == "Lembrete: {nome}, {dia} às {hora}."
    assert current(engine, "notification.reminder")[0] == "Lembrete: {nome}, {dia} às {hora}."
