"""The templates in the database: seeding from the defaults, edits, history and rollback.

Every change writes a ``message_template_versions`` row and bumps the clinic's revision in
``message_template_revisions`` in the same transaction, so every process's cache
(:mod:`clinicbot.messages.cache`) sees it on its next check.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinicbot.db.models import MessageTemplate, MessageTemplateRevision, MessageTemplateVersion
from clinicbot.messages.defaults import DefaultTemplate, default_templates
from clinicbot.messages.placeholders import problems
from clinicbot.tenancy.scope import acting_clinic

LOCALE = "pt_BR"
DEFAULT_VARIANT = "default"


class TemplateError(ValueError):
    """An edit refused; ``problems`` says why, in words staff can act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownTemplate(LookupError):
    """No default template has this key (or the version asked for does not exist)."""


@dataclass(frozen=True)
class Edit:
    text: str
    buttons: list[dict[str, str]] | None = None
    active: bool = True


def _insert(session: Session) -> Any:
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def seed(session: Session, *, clinic_id: int | None = None) -> None:
    """Give every default a row and a version 1; the clinic's edits are never overwritten.

    A row the clinic never edited (version 1, no editor) follows the repository: a default
    changed in a release reaches it. The declared variables and category are always the
    code's. ``ON CONFLICT DO NOTHING`` makes it safe from several processes at once.
    """
    clinic_id = acting_clinic(session, clinic_id)
    insert = _insert(session)
    defaults = default_templates()
    session.execute(
        insert(MessageTemplate)
        .values([_row(template) for template in defaults.values()])
        .on_conflict_do_nothing()
    )
    rows = session.execute(
        select(MessageTemplate).where(
            MessageTemplate.variant == DEFAULT_VARIANT, MessageTemplate.locale == LOCALE
        )
    ).scalars()
    changed = False
    for row in rows:
        template = defaults.get(row.key)
        if template is None:
            continue
        if row.category != template.category or row.variables != list(template.variables):
            row.category, row.variables = template.category, list(template.variables)
        if row.version == 1 and row.updated_by is None and row.text != template.text:
            row.text, row.buttons = template.text, list(template.buttons) or None
            changed = True
            session.execute(
                update(MessageTemplateVersion)
                .where(
                    MessageTemplateVersion.clinic_id == clinic_id,
                    MessageTemplateVersion.key == row.key,
                    MessageTemplateVersion.variant == DEFAULT_VARIANT,
                    MessageTemplateVersion.locale == LOCALE,
                    MessageTemplateVersion.version == 1,
                )
                .values(text=row.text, buttons=row.buttons)
            )
    session.flush()
    session.execute(
        insert(MessageTemplateVersion)
        .from_select(
            [
                "clinic_id",
                "key",
                "variant",
                "locale",
                "version",
                "text",
                "buttons",
                "active",
                "edited_by",
            ],
            select(
                literal(clinic_id),
                MessageTemplate.key,
                MessageTemplate.variant,
                MessageTemplate.locale,
                MessageTemplate.version,
                MessageTemplate.text,
                MessageTemplate.buttons,
                MessageTemplate.active,
                literal("seed"),
            ).where(MessageTemplate.version == 1),
        )
        .on_conflict_do_nothing()
    )
    session.execute(
        insert(MessageTemplateRevision)
        .values(clinic_id=clinic_id, revision=0, stamp=secrets.token_hex(8))
        .on_conflict_do_nothing()
    )
    if changed:
        bump_revision(session, clinic_id=clinic_id)


def _row(template: DefaultTemplate) -> dict[str, Any]:
    return {
        "key": template.key,
        "variant": DEFAULT_VARIANT,
        "locale": LOCALE,
        "text": template.text,
        "category": template.category,
        "variables": list(template.variables),
        "buttons": list(template.buttons) or None,
        "version": 1,
    }


def default_of(key: str) -> DefaultTemplate:
    try:
        return default_templates()[key]
    except KeyError:
        raise UnknownTemplate(key) from None


def validate(key: str, edit: Edit) -> None:
    """:class:`TemplateError` unless ``edit`` may be saved as ``key``."""
    default = default_of(key)
    found = problems(edit.text, default.variables)
    if edit.buttons is not None:
        payloads = [button.get("payload") for button in edit.buttons]
        if payloads != [button["payload"] for button in default.buttons]:
            found.append("the buttons' actions cannot change, only their titles")
        if any(not str(button.get("title") or "").strip() for button in edit.buttons):
            found.append("every button needs a title")
    if found:
        raise TemplateError(found)


def bump_revision(session: Session, *, clinic_id: int | None = None) -> None:
    """Tell every process's cache that this clinic's templates changed."""
    clinic_id = acting_clinic(session, clinic_id)
    session.execute(
        _insert(session)(MessageTemplateRevision)
        .values(clinic_id=clinic_id, revision=0, stamp="")
        .on_conflict_do_nothing()
    )
    session.execute(
        update(MessageTemplateRevision)
        .where(MessageTemplateRevision.clinic_id == clinic_id)
        .values(revision=MessageTemplateRevision.revision + 1, stamp=secrets.token_hex(8))
    )


def find(
    session: Session, key: str, variant: str = DEFAULT_VARIANT, *, locale: str = LOCALE
) -> MessageTemplate | None:
    row: MessageTemplate | None = session.execute(
        select(MessageTemplate).where(
            MessageTemplate.key == key,
            MessageTemplate.variant == variant,
            MessageTemplate.locale == locale,
        )
    ).scalar_one_or_none()
    return row


def save(
    session: Session,
    key: str,
    edit: Edit,
    *,
    edited_by: str,
    variant: str = DEFAULT_VARIANT,
    locale: str = LOCALE,
    clinic_id: int | None = None,
) -> MessageTemplate:
    """Store ``edit`` as the next version of ``key``/``variant`` (validated first)."""
    clinic_id = acting_clinic(session, clinic_id)
    validate(key, edit)
    default = default_of(key)
    row = find(session, key, variant, locale=locale)
    buttons = edit.buttons if edit.buttons is not None else (list(default.buttons) or None)
    if row is None:
        row = MessageTemplate(
            key=key,
            variant=variant,
            locale=locale,
            category=default.category,
            variables=list(default.variables),
            version=_last_version(session, key, variant, locale, clinic_id),
        )
        session.add(row)
    row.text = edit.text
    row.buttons = buttons
    row.active = edit.active
    row.version = max(row.version or 0, _last_version(session, key, variant, locale, clinic_id)) + 1
    row.updated_by = edited_by
    session.add(
        MessageTemplateVersion(
            clinic_id=clinic_id,
            key=key,
            variant=variant,
            locale=locale,
            version=row.version,
            text=edit.text,
            buttons=buttons,
            active=edit.active,
            edited_by=edited_by,
        )
    )
    bump_revision(session, clinic_id=clinic_id)
    session.flush()
    return row


def _last_version(session: Session, key: str, variant: str, locale: str, clinic_id: int) -> int:
    versions = history(session, key, variant, locale=locale, clinic_id=clinic_id)
    return versions[0].version if versions else 0


def history(
    session: Session,
    key: str,
    variant: str = DEFAULT_VARIANT,
    *,
    locale: str = LOCALE,
    clinic_id: int | None = None,
) -> list[MessageTemplateVersion]:
    """Every saved version of ``key``/``variant``, newest first."""
    clinic_id = acting_clinic(session, clinic_id)
    return list(
        session.execute(
            select(MessageTemplateVersion)
            .where(
                MessageTemplateVersion.clinic_id == clinic_id,
                MessageTemplateVersion.key == key,
                MessageTemplateVersion.variant == variant,
                MessageTemplateVersion.locale == locale,
            )
            .order_by(MessageTemplateVersion.version.desc())
        ).scalars()
    )


def rollback(
    session: Session,
    key: str,
    version: int,
    *,
    edited_by: str,
    variant: str = DEFAULT_VARIANT,
    locale: str = LOCALE,
    clinic_id: int | None = None,
) -> MessageTemplate:
    """Make version ``version``'s text current again, as a new version (history only grows)."""
    clinic_id = acting_clinic(session, clinic_id)
    for old in history(session, key, variant, locale=locale, clinic_id=clinic_id):
        if old.version == version:
            return save(
                session,
                key,
                Edit(old.text, old.buttons, old.active),
                edited_by=edited_by,
                variant=variant,
                locale=locale,
                clinic_id=clinic_id,
            )
    raise UnknownTemplate(f"{key} has no version {version}")
