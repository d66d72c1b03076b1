"""Transport-level headers beyond ContractMiddleware's fixed set: HSTS and CORS, both opt-in."""

from __future__ import annotations

from typing import Any

from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send

# Headers a browser client may read: the request id and the rate-limit budget.
EXPOSED_HEADERS = [
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


class HSTSMiddleware:
    """``Strict-Transport-Security`` on every response; only for a service reached over TLS
    (``BEHIND_TLS=true``), since browsers pin the host to HTTPS for ``max_age_s``."""

    def __init__(self, app: ASGIApp, max_age_s: int = 31_536_000) -> None:
        self.app = app
        self.value = f"max-age={max_age_s}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"strict-transport-security", self.value)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def cors_options(origins: str, allow_credentials: bool, max_age_s: int) -> dict[str, Any]:
    """Keyword arguments for starlette's CORSMiddleware from ``CORS_ALLOW_ORIGINS``."""
    allowed = [origin.strip() for origin in origins.split(",") if origin.strip()]
    return {
        "allow_origins": allowed,
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        "expose_headers": EXPOSED_HEADERS,
        "allow_credentials": allow_credentials and "*" not in allowed,
        "max_age": max_age_s,
    }
