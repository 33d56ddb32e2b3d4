"""The one exception the Z-API client raises."""

from __future__ import annotations

# Z-API answers this intermittently (and after a trial expires) even with a valid token;
# public clients retry it, so it counts as a transient failure.
CLIENT_TOKEN_NOT_CONFIGURED = "your client-token is not configured"


class ZapiError(Exception):
    """A Z-API call that did not return 200.

    ``status`` is ``None`` when no HTTP answer arrived (timeout, connection refused).
    ``retryable`` tells an outbox whether sending the same message again may succeed.
    """

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:
        if self.status is None or self.status >= 500:
            return True
        return self.status == 400 and CLIENT_TOKEN_NOT_CONFIGURED in self.body.lower()

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (HTTP {self.status}: {self.body[:200]})" if self.status else base
