"""One error mapping for every route: ``@json_route`` answers a ``FaceReIDError`` with the
contract's ``{"error": {"code", "message"}}`` and its status, and any other result as JSON.

Routes declare their documented 200 model with ``@bentoml.api(output_spec=...)`` (the OpenAPI
at ``/docs.json``) but answer a starlette ``Response`` themselves: BentoML 1.4.40 sends a
returned ``Response`` as is (``_bentoml_impl/server/app.py``) instead of validating it
against ``output_spec``, so the wire shapes (fields present only when asked for, error
statuses) stay exactly what the handler built. BentoML then overwrites the status of a
route that takes a ``bentoml.Context`` with ``ctx.response.status_code`` (200 by default), so
the answer's status is copied there.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

import orjson
from starlette.responses import JSONResponse, Response

from facereid.errors import FaceReIDError
from facereid.wire.errors import contract_body

P = ParamSpec("P")


def error_response(exc: FaceReIDError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content=contract_body(exc))


class FastJSONResponse(JSONResponse):
    """orjson instead of the standard library's encoder: an /analyze answer carries 512+
    floats per face, which ``json.dumps`` formats one by one in Python's float repr (a tenth
    of the API process's time at c=32 in docs/benchmarks.md). Same JSON values, compact;
    a NaN or infinity (none is expected: embeddings and scores are finite) becomes null
    where the standard encoder failed the request."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_refuse)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _answer(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if hasattr(result, "model_dump"):  # a pydantic model
        result = result.model_dump(mode="json", exclude_unset=True)  # the fields it set
    return FastJSONResponse(content=result)


def _keep_status(response: Response, kwargs: dict[str, Any]) -> Response:
    for value in kwargs.values():
        context = getattr(value, "response", None)  # a bentoml.Context's ResponseContext
        if context is not None and hasattr(context, "status_code"):
            context.status_code = response.status_code
    return response


def json_route(func: Callable[P, Any]) -> Callable[P, Any]:
    """Wrap a sync or async route; BentoML reads the wrapped signature (``functools.wraps``
    keeps ``__wrapped__`` and the annotations) and runs a sync one in its thread pool."""
    if inspect.iscoroutinefunction(func):
        coroutine: Callable[P, Awaitable[Any]] = func

        @functools.wraps(func)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> Response:
            try:
                response = _answer(await coroutine(*args, **kwargs))
            except FaceReIDError as exc:
                response = error_response(exc)
            return _keep_status(response, kwargs)

        return run_async

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            response = _answer(func(*args, **kwargs))
        except FaceReIDError as exc:
            response = error_response(exc)
        return _keep_status(response, kwargs)

    return run
