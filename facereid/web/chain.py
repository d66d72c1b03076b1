"""The protection middlewares, in order, from Settings. ``service.py`` registers them after
``ContractMiddleware``; BentoML (starlette) makes the first registered the outermost, so
ContractMiddleware wraps them all: their 401/413/429/503/504 answers get the contract's error
shape, the security headers, the request id, an access log line and a rejection count.

Order, outer to inner: HSTS, CORS (a preflight is answered before authentication), the
failed-authentication budget (before any key is compared), API keys (so the rate limiter can
key on a validated key), rate limit, concurrency and time limits (after the key check, so
unauthenticated floods hold no slot), body size and body framing. The ``GET`` routes
(``/health``, ``/docs.json``, ``/metrics``) are a mounted app (``get_routes_app``) inside
them all, so that settings can put those behind keys and limits too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from facereid.config import Settings
from facereid.ops.metrics import exposition
from facereid.web.auth import ApiKeyMiddleware, resolve_keys
from facereid.web.body_limit import BodyLimitMiddleware, body_limit_options
from facereid.web.console import ConsoleMiddleware
from facereid.web.content import ContentCheckMiddleware
from facereid.web.contract import (
    ASGIApp,
    JSONHandler,
    Receive,
    Scope,
    Send,
    json_endpoint,
    send_error,
)
from facereid.web.headers import HSTSMiddleware, cors_options
from facereid.web.limit_store import BoundedLimiter, CircuitBreaker
from facereid.web.ratelimit import FailedAuthLimitMiddleware, RateLimitMiddleware
from facereid.web.traffic import PROBES, ConcurrencyLimitMiddleware, RequestTimeoutMiddleware

METRICS_PATH = "/metrics"


def split_paths(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /metrics``: BentoML's own endpoint is turned off in ``service.py`` together with
    its path-labelled HTTP metrics; this one serves the same multiprocess registry."""
    if scope.get("method") not in ("GET", "HEAD"):
        await send_error(send, 405, "method_not_allowed", "use GET")
        return
    body, content_type = exposition()
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})


def get_routes_app(routes: Mapping[str, JSONHandler], serve_metrics: bool = True) -> Starlette:
    """The ``GET`` endpoints that BentoML's POST-only APIs cannot express (``/health``,
    ``/docs.json``, ``/metrics``), as one Starlette app that ``service.py`` mounts at the root
    the way BentoML documents (``Service.mount_asgi_app``). BentoML mounts it passively (only
    paths it routes) and before its own ``/docs.json``; the middlewares wrap mounted apps like
    the APIs, so these routes sit behind the whole chain, as a key or a limit asks."""
    apps: dict[str, ASGIApp] = {path: json_endpoint(handler) for path, handler in routes.items()}
    if serve_metrics:
        apps[METRICS_PATH] = metrics_app
    return Starlette(routes=[Route(path, _Templated(path, app)) for path, app in apps.items()])


class _Templated:  # an ASGI app, not a function: starlette would wrap a function
    """The app, with its path recorded as the route template for metrics and logs."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        self.path = path
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["route"] = self.path
        await self.app(scope, receive, send)


def protection_middlewares(
    settings: Settings,
    file_fields: Mapping[str, Collection[str]] | None = None,
) -> list[tuple[type[Any], dict[str, Any]]]:
    """Raises ``AuthConfigError`` (ends the process with one line) for a key setup that must
    not start: see ``facereid.web.auth.resolve_keys``."""
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
    keys = resolve_keys(settings.auth, settings.api_keys, settings.api_keys_file)
    limiter: BoundedLimiter | None = None
    if keys or settings.rate_limit or settings.rate_limits:
        limiter = BoundedLimiter(
            settings.rate_limit_storage_uri,
            settings.rate_limit_strategy,
            settings.rate_limit_store_timeout_s,
            CircuitBreaker(
                settings.rate_limit_breaker_failures, settings.rate_limit_breaker_reset_s
            ),
        )
    if keys:
        exempt = split_paths(settings.auth_exempt_paths)
        if settings.metrics_require_key:
            exempt = [path for path in exempt if path != METRICS_PATH]
        if settings.failed_auth_limit and limiter is not None:
            failed = {
                "limiter": limiter,
                "limit": settings.failed_auth_limit,
                "trusted_proxies": settings.trusted_proxies,
                "exempt_paths": exempt,
            }
            chain.append((FailedAuthLimitMiddleware, failed))
        chain.append((ApiKeyMiddleware, {"keys": keys, "exempt_paths": exempt}))
    if (settings.rate_limit or settings.rate_limits) and limiter is not None:
        limits = {
            "limiter": limiter,
            "default": settings.rate_limit,
            "per_path": dict(settings.rate_limits),
            "exempt_paths": split_paths(settings.rate_limit_exempt_paths),
            "trusted_proxies": settings.trusted_proxies,
        }
        chain.append((RateLimitMiddleware, limits))
    if settings.max_concurrency > 0:
        chain.append((ConcurrencyLimitMiddleware, {"limit": settings.max_concurrency}))
    if settings.request_timeout_s > 0:
        options = {"timeout_s": settings.request_timeout_s, "skip_paths": PROBES}
        chain.append((RequestTimeoutMiddleware, options))
    if settings.max_request_bytes > 0 or settings.route_max_bytes:
        chain.append((BodyLimitMiddleware, body_limit_options(settings)))
    chain.append((ContentCheckMiddleware, {"file_fields": dict(file_fields or {})}))
    return chain


def wrap(app: ASGIApp, chain: list[tuple[type[Any], dict[str, Any]]]) -> ASGIApp:
    """Apply a chain the way starlette does (first = outermost); for tests and tools."""
    for middleware, options in reversed(chain):
        app = middleware(app, **options)
    return app
