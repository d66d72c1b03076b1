"""A small Starlette app wrapped the way service.py wraps the real one: ContractMiddleware
outermost, then the protection chain built from Settings."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from facereid.config import Settings
from facereid.web.chain import protection_middlewares, wrap
from facereid.web.contract import ASGIApp, ContractMiddleware


async def analyze(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"received": len(body)})


async def compare(request: Request) -> JSONResponse:
    return JSONResponse({"similarity": 1.0})


async def livez(request: Request) -> PlainTextResponse:
    return PlainTextResponse("\n")


async def health() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "healthy"}


def inner_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/analyze", analyze, methods=["POST"]),
            Route("/compare", compare, methods=["POST"]),
            Route("/livez", livez),
        ]
    )


def protected_app(**settings: Any) -> ASGIApp:
    chain = protection_middlewares(Settings(**settings), get_routes={"/health": health})
    return ContractMiddleware(wrap(inner_app(), chain))
