"""The text to send for a template key: the clinic's version (or the patient's A/B variant),
filled with the values the sender supplies, and never sent broken.

If the stored text cannot be filled (a value missing, or a variable that was never declared:
a row edited behind the staff API's back), the repository's default is sent instead and the
error logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from clinicbot.messages import ab_tests
from clinicbot.messages.cache import TEMPLATE_CACHE, TemplateCache
from clinicbot.messages.placeholders import MissingValues, fill, fill_leniently, problems
from clinicbot.messages.store import DEFAULT_VARIANT, LOCALE, default_of
from clinicbot.tenancy.scope import acting_clinic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    key: str
    text: str
    buttons: list[dict[str, Any]] | None
    variant: str
    fell_back: bool = False


def render(
    session: Session,
    key: str,
    values: Mapping[str, object],
    *,
    phone: str | None = None,
    clinic_id: int | None = None,
    locale: str = LOCALE,
    cache: TemplateCache = TEMPLATE_CACHE,
) -> Rendered:
    """``key`` for ``phone`` (its A/B variant when a test runs on ``key``) with ``values``.

    Raises :class:`~clinicbot.messages.store.UnknownTemplate` for a key with no default.
    """
    clinic_id = acting_clinic(session, clinic_id)
    default = default_of(key)
    snapshot = cache.get(session, clinic_id)
    test = snapshot.tests.get(key)
    variant = DEFAULT_VARIANT
    if test is not None and phone:
        variant = ab_tests.variant_for(test, phone)
    active = snapshot.template(key, variant, locale)
    if active is None and variant != DEFAULT_VARIANT:
        logger.error("template %s has no active variant %s: sending the default", key, variant)
        variant = DEFAULT_VARIANT
        active = snapshot.template(key, variant, locale)
    text = active.text if active is not None else default.text
    buttons = active.buttons if active is not None else (list(default.buttons) or None)
    try:
        wrong = problems(text, default.variables)
        if wrong:
            raise MissingValues(wrong)
        filled = fill(text, values)
    except MissingValues as error:
        logger.error(
            "template %s (variant %s) cannot be sent (%s): sending the default text",
            key,
            variant,
            error,
        )
        rendered = Rendered(
            key,
            fill_leniently(default.text, values),
            list(default.buttons) or None,
            DEFAULT_VARIANT,
            fell_back=True,
        )
    else:
        rendered = Rendered(key, filled, buttons, variant)
    if test is not None and phone:
        ab_tests.record_render(session, test, phone, rendered.variant, rendered.text)
    return rendered
