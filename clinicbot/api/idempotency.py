"""``Idempotency-Key`` on every POST: the first response is stored and replayed.

The key is scoped to the API key that sent it. A retry with the same body gets the stored
response again (header ``Idempotent-Replayed: true``); the same key with another body or route
is a 422; while the first request is still running, a retry is a 409. A 5xx response is not
kept, so the client may retry it with the same key. Records are kept :data:`RETENTION` (they
hold responses with patient data), then deleted and the key may be used again. Erasing a
patient replaces the stored responses that mention them with a 410 (:func:`redact_responses`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinicbot.api.problems import Problem
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiIdempotencyKey
from clinicbot.db.types import utcnow

MAX_KEY_LENGTH = 200
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Stored:
    status: int
    body: str


def request_hash(method: str, path: str, body: bytes) -> str:
    """Of the route and the body (JSON compared by value, so key order does not matter)."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


def check_key(key: str | None) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            400,
            "idempotency-key-required",
            ("Idempotency-Key required", "Idempotency-Key obrigatório"),
            (
                f"Every POST needs an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} characters.",
                f"Todo POST precisa do cabeçalho Idempotency-Key, de 1 a {MAX_KEY_LENGTH} "
                "caracteres.",
            ),
        )
    return key


def begin(engine: Engine, api_key_id: int, clinic_id: int, key: str, digest: str) -> Stored | None:
    """Claim ``key`` for this request; the stored response when it was answered before."""
    try:
        with session_scope(engine) as session:
            expired = ApiIdempotencyKey.created_at < utcnow() - RETENTION
            session.execute(delete(ApiIdempotencyKey).where(expired))
            session.add(
                ApiIdempotencyKey(
                    clinic_id=clinic_id,
                    api_key_id=api_key_id,
                    idempotency_key=key,
                    request_hash=digest,
                )
            )
        return None
    except IntegrityError:
        pass
    with session_scope(engine) as session:
        row = session.execute(
            select(ApiIdempotencyKey).where(
                ApiIdempotencyKey.api_key_id == api_key_id,
                ApiIdempotencyKey.idempotency_key == key,
            )
        ).scalar_one()
        if row.request_hash != digest:
            raise Problem(
                422,
                "idempotency-key-reused",
                ("Idempotency-Key reused", "Idempotency-Key reutilizado"),
                (
                    "This Idempotency-Key was used with another request body or route.",
                    "Este Idempotency-Key já foi usado com outro corpo ou outra rota.",
                ),
            )
        if row.status_code is None:
            raise Problem(
                409,
                "idempotency-key-in-use",
                ("Request in progress", "Requisição em andamento"),
                (
                    "A request with this Idempotency-Key is still being handled; retry later.",
                    "Uma requisição com este Idempotency-Key ainda está em andamento; tente "
                    "de novo em instantes.",
                ),
                headers={"Retry-After": "1"},
            )
        return Stored(row.status_code, row.response_body or "")


def finish(engine: Engine, api_key_id: int, key: str, status: int, body: str) -> None:
    """Store the response (or, for a 5xx, forget the key so a retry runs again)."""
    with session_scope(engine) as session:
        mine = (ApiIdempotencyKey.api_key_id == api_key_id) & (
            ApiIdempotencyKey.idempotency_key == key
        )
        if status >= 500:
            session.execute(delete(ApiIdempotencyKey).where(mine))
            return
        row = session.execute(select(ApiIdempotencyKey).where(mine)).scalar_one()
        row.status_code, row.response_body = status, body


ERASED = Problem(
    410,
    "response-erased",
    ("Response erased", "Resposta apagada"),
    (
        "The stored response to this request held personal data that has since been erased.",
        "A resposta guardada desta requisição tinha dados pessoais que foram apagados.",
    ),
)


def redact_responses(session: Session, identifiers: set[str]) -> int:
    """Replace every stored response that mentions one of ``identifiers`` (a phone, a CPF)
    with :data:`ERASED`; how many. The record stays, so a retry is still not run twice."""
    mentions = [ApiIdempotencyKey.response_body.contains(value) for value in identifiers if value]
    if not mentions:
        return 0
    return int(
        session.execute(
            update(ApiIdempotencyKey)
            .where(or_(*mentions))
            .values(status_code=ERASED.status, response_body=json.dumps(ERASED.body()))
            .execution_options(synchronize_session=False)
        ).rowcount
    )
