"""The staff token check shared by every staff endpoint (``Authorization: Bearer <token>``).

Staff pages keep the token in the browser's ``sessionStorage`` under ``clinicbot.staffToken``
(``static/staff/staff-auth.js``) and send it as that header; the pages themselves hold no data.
"""

from __future__ import annotations

import hmac

from sanic import Request
from sanic.response import HTTPResponse, json


def deny_unless_staff(request: Request) -> HTTPResponse | None:
    """401 unless the request carries ``Authorization: Bearer <STAFF_TOKEN>``.

    With no token configured nobody gets in (production refuses to start without one).
    """
    expected = request.app.ctx.settings.staff_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given, expected):
        return json({"error": "unauthorized"}, status=401)
    return None
