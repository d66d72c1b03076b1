"""Structured logs: one JSON object per line, request fields, no image or embedding data."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from facereid.ops.logs import SERVICE_LOGGERS, configure_logging
from tests.unit.facereid.protected_app import protected_app


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in SERVICE_LOGGERS
    }
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield stream
    for name, (handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def test_access_line_is_json_without_image_or_embedding_data(log_stream: io.StringIO) -> None:
    image_b64 = base64.b64encode(bytes(range(256)) * 64).decode()
    embedding = [0.123456789] * 512
    body = json.dumps({"image_data": image_b64, "embedding": embedding})
    client = TestClient(protected_app(max_request_bytes=100))
    client.post("/analyze", content=body, headers={"x-request-id": "rid-42"})
    client.post("/compare")  # a 200 logs too
    lines = [line for line in log_stream.getvalue().splitlines() if "facereid.access" in line]
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]  # each line is valid JSON
    first = records[0]
    assert first["logger"] == "facereid.access"
    assert first["level"] == "WARNING"
    request = first["request"]
    assert request["request_id"] == "rid-42"
    assert request["route"] == "/analyze"
    assert request["status"] == 413
    assert request["error_code"] == "payload_too_large"
    assert isinstance(request["duration_ms"], float)
    assert records[1]["request"]["status"] == 200
    text = log_stream.getvalue()
    assert image_b64[:40] not in text
    assert "0.123456789" not in text


def test_configure_is_idempotent(log_stream: io.StringIO) -> None:
    configure_logging("json", "INFO", stream=log_stream)
    logging.getLogger("facereid.test").info("once")
    assert log_stream.getvalue().count('"once"') == 1


def test_trace_ids_are_added_inside_a_span(log_stream: io.StringIO) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        logging.getLogger("facereid.test").info("traced")
    record = json.loads(log_stream.getvalue().splitlines()[-1])
    assert record["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert len(record["span_id"]) == 16


def test_text_logs_escape_control_characters_in_the_path() -> None:
    """Before: with LOG_FORMAT=text a %0A in the path started a forged log line."""
    stream = io.StringIO()
    saved = {name: logging.getLogger(name).handlers[:] for name in SERVICE_LOGGERS}
    try:
        configure_logging("text", "INFO", stream=stream)
        TestClient(protected_app()).post("/x%0AERROR%20forged%1b[31m")
    finally:
        for name, handlers in saved.items():
            logging.getLogger(name).handlers[:] = handlers
    lines = [line for line in stream.getvalue().splitlines() if "facereid.access" in line]
    assert len(lines) == 1
    assert "\\nERROR forged\\x1b[31m" in lines[0]
    assert not any(line.startswith("ERROR forged") for line in stream.getvalue().splitlines())


def test_foreign_access_log_is_escaped_too(log_stream: io.StringIO) -> None:
    record = logging.LogRecord("bentoml.access", logging.INFO, "f", 1, "path=%s", ("/a\nb",), None)
    for log_filter in logging.getLogger("bentoml.access").filters:
        assert isinstance(log_filter, logging.Filter)
        log_filter.filter(record)
    assert record.getMessage() == "path=/a\\nb"


def test_a_refused_request_is_one_warning_line_without_values() -> None:
    """Issue 21: BentoML logged every schema refusal as an ERROR traceback quoting the body."""
    from pydantic import BaseModel, StrictInt, ValidationError

    from facereid.ops.logs import RefusedRequestFilter

    class Body(BaseModel):
        top_k: StrictInt
        subject: str

    try:
        Body.model_validate({"top_k": True, "subject": ["Jane Q Public"]})
    except ValidationError:
        record = logging.LogRecord(
            "bentoml._internal.server.http_app",
            logging.ERROR,
            __file__,
            1,
            "Exception on %s [%s]",
            ("/gallery/search", "POST"),
            sys.exc_info(),
        )
    assert RefusedRequestFilter().filter(record)
    text = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert text.startswith("WARNING request refused on /gallery/search: 422 invalid_request")
    assert "subject" in text and "top_k" in text
    assert "Jane" not in text and "Traceback" not in text and "\n" not in text
    # a real failure keeps its ERROR record and traceback
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failure = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", (), sys.exc_info())
    assert RefusedRequestFilter().filter(failure) and failure.exc_info is not None
