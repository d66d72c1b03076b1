"""A small Starlette app wrapped the way service.py wraps the real one: ContractMiddleware
outermost, then the protection chain built from Settings, all as starlette middleware (as
BentoML registers them, so ``scope["app"]`` and the route templates are what they are there)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from facereid.config import Settings
from facereid.web.chain import get_routes_app, protection_middlewares
from facereid.web.contract import ASGIApp, ContractMiddleware


async def analyze(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"received": len(body)})


async def compare(request: Request) -> JSONResponse:
    return JSONResponse({"similarity": 1.0})


async def upload(request: Request) -> JSONResponse:
    form = await request.form()
    return JSONResponse({"fields": sorted(form.keys())})


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params.get("s", "5")))
    return JSONResponse({"slept": True})


async def tenant(request: Request) -> JSONResponse:
    from facereid.web.tenancy import tenant_of

    return JSONResponse({"tenant": tenant_of(request.scope)})


async def livez(request: Request) -> PlainTextResponse:
    return PlainTextResponse("\n")


async def health() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "healthy"}


def inner_app() -> Starlette:
    return Starlette(routes=ROUTES)


ROUTES = [
    Route("/analyze", analyze, methods=["POST"]),
    Route("/compare", compare, methods=["POST"]),
    Route("/video/submit", upload, methods=["POST"]),
    Route("/slow", slow, methods=["POST"]),
    Route("/whoami", tenant, methods=["POST"]),
    Route("/items/{item_id}", compare, methods=["POST"]),
    Route("/livez", livez),
]


def protected_app(**settings: Any) -> ASGIApp:
    chain = protection_middlewares(Settings(**settings), file_fields={"/video/submit": {"video"}})
    middleware = [Middleware(ContractMiddleware)]
    middleware += [Middleware(cls, **options) for cls, options in chain]  # type: ignore[arg-type]
    # the GET routes inside the whole chain, matched only on their own paths, as BentoML's
    # passive mount of service.py's get_routes_app does
    get_routes = get_routes_app({"/health": health}).routes
    return Starlette(routes=[*ROUTES, *get_routes], middleware=middleware)
