"""The rule for conversation replies: an action names a ``domain.yml`` response and passes the
values of the ``{variables}`` its text names; it never writes the words itself."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest

from clinicbot.services.clinic import faq_reply, load_clinic
from clinicbot.settings import PROJECT_ROOT
from tests.actions.harness import responses

ACTIONS = sorted((PROJECT_ROOT / "actions").glob("*.py"))
# How Rasa's interpolator finds a variable in a response's text.
VARIABLE = re.compile(r"{([^\n{}]+?)}")
# utter_message's own keywords; every other keyword is a variable of the response.
NOT_VARIABLES = {"response", "buttons"}


def variables_of(response: str) -> set[str]:
    return {
        name for variation in responses()[response] for name in VARIABLE.findall(variation["text"])
    }


def utter_calls() -> Iterator[tuple[str, ast.Call]]:
    """Every ``….utter_message(…)`` call in ``actions/``, with where it is."""
    for path in ACTIONS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                yield f"{path.name}:{node.lineno}", node


def keywords(call: ast.Call) -> dict[str | None, ast.expr]:
    """The call's keyword arguments (``None`` for a ``**mapping``)."""
    return {keyword.arg: keyword.value for keyword in call.keywords}


def named_responses(call: ast.Call) -> list[str]:
    """The response keys the call may utter (both branches of a conditional expression)."""
    value = keywords(call).get("response")
    branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
    return [branch.value for branch in branches if isinstance(branch, ast.Constant)]


def test_actions_name_a_response_instead_of_writing_text() -> None:
    written = [where for where, call in utter_calls() if "response" not in keywords(call)]
    assert written == [], "inline text: add a response to domain.yml and utter it by key"


# Not response names: Rasa's event metadata key, and a prefix the outcome tracker matches.
NOT_RESPONSES = {"utter_action"}


def test_every_response_the_code_names_is_in_the_domain() -> None:
    sources = [*ACTIONS, *(PROJECT_ROOT / "clinicbot").rglob("*.py")]
    named = {
        key
        for path in sources
        for key in re.findall(r"[\"'](utter_\w+)[\"']", path.read_text(encoding="utf-8"))
        if key not in NOT_RESPONSES and not key.endswith("_")
    }
    assert named - set(responses()) == set()


# Variables passed as ``**mapping`` are checked where the mapping is built (FAQ replies below;
# day_and_hour gives both {dia} and {hora}).
FILLED_BY_KEYWORDS = {where: call for where, call in utter_calls() if None not in keywords(call)}


@pytest.mark.parametrize("where", sorted(FILLED_BY_KEYWORDS))
def test_each_reply_gets_the_variables_its_text_names(where: str) -> None:
    call = FILLED_BY_KEYWORDS[where]
    given = set(keywords(call)) - NOT_VARIABLES
    for response in named_responses(call):
        assert given == variables_of(response), response


@pytest.mark.parametrize(
    ("intent", "insurer"),
    [
        ("horario_funcionamento", None),
        ("localizacao", None),
        ("convenios", None),
        ("convenios", "Unimed"),
        ("convenios", "Hapvida"),
        ("valores", None),
        ("especialidades", None),
    ],
)
def test_faq_replies_fill_their_responses(intent: str, insurer: str | None) -> None:
    reply = faq_reply(intent, load_clinic(), asked_insurer=insurer)
    assert reply is not None
    assert set(reply.variables) == variables_of(reply.response)


def test_the_rule_reads_the_actions() -> None:
    modules = {where.split(":")[0] for where, _ in utter_calls()}
    assert {"asks.py", "conversation.py", "faq.py", "forms.py", "journeys.py"} <= modules
