"""The protection middlewares, in order, from Settings. ``service.py`` registers them after
``ContractMiddleware``; BentoML (starlette) makes the first registered the outermost, so
ContractMiddleware wraps them all: their 401/413/429 answers get the contract's error shape,
the security headers, the request id, an access log line and a rejection count.

Order, outer to inner: HSTS, CORS (a preflight is answered before authentication), API keys
(so the rate limiter can key on a validated key), rate limit, body size, and last the JSON
``GET`` routes (``/health``), so that a setting can put those behind keys and limits too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facereid.config import Settings
from facereid.web.auth import ApiKeyMiddleware, load_key_digests
from facereid.web.body_limit import BodyLimitMiddleware
from facereid.web.console import ConsoleMiddleware
from facereid.web.contract import ASGIApp, JSONHandler, Receive, Scope, Send, json_endpoint
from facereid.web.headers import HSTSMiddleware, cors_options
from facereid.web.ratelimit import RateLimitMiddleware


def split_paths(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class GetRoutesMiddleware:
    """Exact paths answered by JSON handlers (``asgi.json_endpoint``), the rest passed on:
    ``GET`` endpoints that BentoML's POST-only APIs cannot express (an app mounted at
    ``/health`` would redirect to ``/health/``)."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, JSONHandler]) -> None:
        self.app = app
        self.routes = {path: json_endpoint(handler) for path, handler in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        await (target or self.app)(scope, receive, send)


def protection_middlewares(
    settings: Settings, get_routes: Mapping[str, JSONHandler] | None = None
) -> list[tuple[type[Any], dict[str, Any]]]:
    from starlette.middleware.cors import CORSMiddleware

    chain: list[tuple[type[Any], dict[str, Any]]] = []
    if settings.behind_tls:
        chain.append((HSTSMiddleware, {"max_age_s": settings.hsts_max_age_s}))
    if settings.cors_allow_origins.strip():
        options = cors_options(
            settings.cors_allow_origins, settings.cors_allow_credentials, settings.cors_max_age_s
        )
        chain.append((CORSMiddleware, options))
    chain.append((ConsoleMiddleware, {}))  # /ui: static, holds no data, so before the keys
    digests = load_key_digests(settings.api_keys, settings.api_keys_file)
    if digests:
        exempt = split_paths(settings.auth_exempt_paths)
        chain.append((ApiKeyMiddleware, {"digests": digests, "exempt_paths": exempt}))
    if settings.rate_limit or settings.rate_limits:
        limits = {
            "default": settings.rate_limit,
            "per_path": dict(settings.rate_limits),
            "storage_uri": settings.rate_limit_storage_uri,
            "strategy": settings.rate_limit_strategy,
            "exempt_paths": split_paths(settings.rate_limit_exempt_paths),
            "trusted_proxies": settings.trusted_proxies,
        }
        chain.append((RateLimitMiddleware, limits))
    if settings.max_request_bytes > 0:
        chain.append((BodyLimitMiddleware, {"max_bytes": settings.max_request_bytes}))
    if get_routes:
        chain.append((GetRoutesMiddleware, {"routes": dict(get_routes)}))
    return chain


def wrap(app: ASGIApp, chain: list[tuple[type[Any], dict[str, Any]]]) -> ASGIApp:
    """Apply a chain the way starlette does (first = outermost); for tests and tools."""
    for middleware, options in reversed(chain):
        app = middleware(app, **options)
    return app
