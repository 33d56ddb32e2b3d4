"""The one exception the Graph API client raises."""

from __future__ import annotations

# Graph API error codes worth retrying: rate limits and temporary service problems.
RETRYABLE_CODES = {1, 2, 4, 80007, 130429, 131000, 131016}


class MetaError(Exception):
    """A Graph API call that did not return 200 (``status`` None: no HTTP answer at all)."""

    def __init__(
        self, message: str, *, status: int | None = None, body: str = "", code: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.code = code

    @property
    def retryable(self) -> bool:
        if self.status is None or self.status >= 500 or self.status == 429:
            return True
        return self.code in RETRYABLE_CODES

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (HTTP {self.status}: {self.body[:200]})" if self.status else base
