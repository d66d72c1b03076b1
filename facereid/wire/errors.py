"""The error body that crosses a process boundary, and its one pair of conversions.

The services answer an error as data (a raised exception would reach the caller as a bare
500); ``error_from_wire`` turns it back into the same ``FaceReIDError`` class, with the code,
message and status the callee gave it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import BaseModel, ConfigDict, Field

from facereid.errors import FaceReIDError


class ErrorBody(BaseModel):
    """An error between the services: the code, the message and the HTTP status."""

    code: str
    message: str
    status: int | None = None  # absent: the code's own class says


def error_to_wire(exc: FaceReIDError) -> ErrorBody:
    return ErrorBody(code=exc.code, message=exc.message, status=exc.status)


def _subclasses(cls: type[FaceReIDError]) -> Iterator[type[FaceReIDError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _classes() -> dict[str, type[FaceReIDError]]:
    """Every error class imported so far (a room's errors are imported with its code)."""
    classes: dict[str, type[FaceReIDError]] = {}
    for cls in _subclasses(FaceReIDError):
        classes.setdefault(cls.code, cls)  # the most general class of a shared code
    return classes


def error_from_wire(body: ErrorBody | Mapping[str, object]) -> FaceReIDError:
    """The callee's error as its own class; an unknown code keeps its code and status."""
    fields = body.model_dump() if isinstance(body, ErrorBody) else body
    code = str(fields.get("code", "internal_error"))
    message = str(fields.get("message", ""))
    cls = _classes().get(code, FaceReIDError)
    exc = cls(message)
    status = fields.get("status")
    if cls is FaceReIDError:
        exc.code = code
    if isinstance(status, int) and 400 <= status <= 599:
        exc.status = status
    return exc


def contract_body(exc: FaceReIDError) -> dict[str, dict[str, str]]:
    """The HTTP contract's error body, for a route's answer and a batch entry alike."""
    return {"error": {"code": exc.code, "message": exc.message}}


# -- the same body as the OpenAPI document declares it ------------------------------------


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. ``fields`` on 422, ``job_id`` on video

    code: str = Field(description="stable machine-readable code (docs/api.md#error-codes)")
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer, whatever produced it."""

    error: ErrorDetail
