"""Structured logs: one JSON object per line for the service's own loggers.

``configure_logging`` is called by each service's ``__init__`` (after BentoML configured its own
logging in the worker, which would otherwise replace ours). It gives the ``facereid`` and
``runners`` loggers one stream handler with python-json-logger's formatter and stops them
propagating to BentoML's text handlers, so each record is written once. The access logger
(``facereid.access``) puts its fields under ``request``: request id, method, route, status,
duration and error code, never bodies, images or embeddings.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from pythonjsonlogger.json import JsonFormatter

SERVICE_LOGGERS = ("facereid", "runners", "service")
_MARK = "_facereid_handler"


class TraceContextFilter(logging.Filter):
    """Adds the OpenTelemetry ``trace_id``/``span_id`` (BentoML traces every request) so a log
    line can be found from its trace; nothing when no span is recording or OTel is absent."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from opentelemetry import trace
        except ImportError:
            return True
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def escape_controls(text: str) -> str:
    """Control characters as escapes: a ``%0A`` in a request path must not start a new,
    forged log line in the text format."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class EscapingTextFormatter(logging.Formatter):
    """The text format with the message escaped (a traceback, added after, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class EscapeControlsFilter(logging.Filter):
    """Escapes a record's message in place, whatever formats it later: for loggers we do not
    own, such as BentoML's access log, which writes the raw request path."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, ()
        return True


FOREIGN_LOGGERS = ("bentoml.access",)
# BentoML logs every refused request body at ERROR with a ~25-line traceback whose pydantic
# error repeats the input (issue 21): cheap to flood, and it quotes request bodies.
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"


def _refusal(exc: BaseException) -> str | None:
    """One line for a request BentoML refused (schema, or a 4xx BentoMLException); else None."""
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        where = ", ".join(escape_controls(f)[:64] for f in fields[:8])
        return f"422 invalid_request: {exc.error_count()} schema error(s) at {where}"
    if isinstance(exc, BentoMLException) and int(exc.error_code.value) < 500:
        return f"{int(exc.error_code.value)} {type(exc).__name__}"
    return None


class RefusedRequestFilter(logging.Filter):
    """BentoML's traceback for a refused request becomes one WARNING line with its status and
    code and the names of the fields at fault, never their values; real failures (5xx) keep
    their ERROR record."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        line = _refusal(exc) if exc is not None else None
        if line is None:
            return True
        path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = "request refused on %s: %s", (escape_controls(str(path)), line)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(
    log_format: str = "json", level: str = "INFO", stream: IO[str] | None = None
) -> None:
    """Idempotent: a second call replaces the handler it installed, nothing else."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        json_formatter()
        if log_format == "json"
        else EscapingTextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(TraceContextFilter())
    setattr(handler, _MARK, True)
    for name in SERVICE_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
        logger.disabled = False  # BentoML's dictConfig may have disabled existing loggers
    for name in FOREIGN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, EscapeControlsFilter) for f in logger.filters):
            logger.addFilter(EscapeControlsFilter())
    refusals = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, RefusedRequestFilter) for f in refusals.filters):
        refusals.addFilter(RefusedRequestFilter())
