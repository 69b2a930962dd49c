"""Exceptions every client raises, whatever the API's own error envelope looks like.

Messages name the marketplace, the operation and the API's own code and message; they
never carry a URL query string, a header or a body that could hold a token.
"""

from __future__ import annotations


class MarketplaceError(Exception):
    """An API call failed; `retryable` says whether trying again can help."""

    retryable = False

    def __init__(
        self,
        marketplace: str,
        operation: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.operation = operation
        self.status = status
        self.code = code
        self.request_id = request_id
        self.detail = message
        parts = [f"{marketplace} {operation} failed"]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(f"code {code}")
        text = ", ".join(parts) + f": {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class AuthError(MarketplaceError):
    """Credentials were refused: the token expired or was revoked, or the app is wrong."""


class InvalidRequestError(MarketplaceError):
    """The API rejected what we sent (4xx): a bug or bad input, never retried."""


class NotFoundError(InvalidRequestError):
    pass


class RateLimitedError(MarketplaceError):
    retryable = True

    def __init__(self, *args: object, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class TransientError(MarketplaceError):
    """5xx, timeouts and dropped connections: worth another try after a pause."""

    retryable = True

    def __init__(self, *args: object, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
