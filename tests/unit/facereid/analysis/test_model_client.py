"""The BentoML-backed clients and /health on fake dependency handles: timeouts, retries,
degraded emotions, and health reasons that never carry an internal address."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np
import pytest

from facereid.analysis.health import HealthEndpoint
from facereid.analysis.model_client import EmotionServiceClient, FaceServiceClient, with_retries
from facereid.config import Settings
from facereid.emotion.clip_health import ClipHealth
from facereid.emotion.crops import face_crops
from facereid.errors import ModelOverloadedError, ModelTimeoutError

IMAGE = np.full((100, 100, 3), 128, np.uint8)
INFO = {
    "engine": "dlib",
    "name": "x",
    "source": "package",
    "synthetic": False,
    "embedding_dim": 128,
    "embedding_model": "dlib/x/128",
}
SECRET = "Cannot connect to host 10.1.2.3:3001 ssl:default"


class Overloaded(Exception):
    pass


def handle(**apis: Any) -> SimpleNamespace:
    """A ``bentoml.depends`` stand-in: ``to_async.<api>`` are the given coroutines."""
    return SimpleNamespace(to_async=SimpleNamespace(**apis))


def faces(face: SimpleNamespace, **settings: Any) -> FaceServiceClient:
    return FaceServiceClient(Settings(**settings), face, Overloaded)


def emotions(emotion: SimpleNamespace) -> EmotionServiceClient:
    health = ClipHealth()
    health.mark_available({"synthetic": False})
    return EmotionServiceClient(Settings(), emotion, health)


def wire_face() -> dict[str, Any]:
    return {
        "bbox": [10.0, 10.0, 60.0, 70.0],
        "score": 0.9,
        "kps": None,
        "landmarks_106": None,
        "embedding": np.ones(4, np.float32),
    }


def test_detect_embed_answers_typed_records() -> None:
    async def detect_embed(images: list[np.ndarray]) -> list[list[dict[str, Any]]]:
        return [[wire_face()]]

    found = asyncio.run(faces(handle(detect_embed=detect_embed)).detect_embed(IMAGE))
    assert found[0].bbox == (10.0, 10.0, 60.0, 70.0) and found[0].xywh() == [10, 10, 50, 60]


def test_slow_face_model_is_a_504_and_load_shedding_a_503() -> None:
    async def slow(images: list[np.ndarray]) -> None:
        await asyncio.sleep(5)

    async def shed(images: list[np.ndarray]) -> None:
        raise Overloaded("503")

    with pytest.raises(ModelTimeoutError):
        asyncio.run(faces(handle(detect_embed=slow), face_timeout_s=0.05).detect_embed(IMAGE))
    with pytest.raises(ModelOverloadedError):
        asyncio.run(faces(handle(detect_embed=shed)).detect_embed(IMAGE))


def test_connection_drops_are_retried_other_errors_are_not() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise aiohttp.ClientConnectionError("Connector is closed")
        return "ok"

    assert asyncio.run(with_retries(flaky, "test")) == "ok" and len(calls) == 3

    async def broken() -> str:
        calls.append(1)
        raise ValueError("bad")

    calls.clear()
    with pytest.raises(ValueError):
        asyncio.run(with_retries(broken, "test"))
    assert len(calls) == 1


def test_clip_failure_degrades_to_null_and_marks_clip_unavailable() -> None:
    async def score(crops: list[np.ndarray]) -> list[dict[str, float]]:
        raise aiohttp.ClientConnectionError(SECRET)

    models = emotions(handle(score=score))
    assert asyncio.run(models.score_crops(face_crops(IMAGE, [(10, 10, 60, 70)], 0.2), None)) == [
        None
    ]
    assert models.clip_health.available is False
    assert "10.1.2.3" not in str(models.clip_health.reason)


def test_emotions_only_for_boxes_inside_the_image() -> None:
    seen: list[int] = []

    async def score_labels(crops: list[np.ndarray], labels: list[str]) -> list[dict[str, float]]:
        seen.append(len(crops))
        return [dict.fromkeys(labels, 0.5) for _ in crops]

    models = emotions(handle(score_labels=score_labels))
    boxes = [(10.0, 10.0, 60.0, 70.0), (500.0, 500.0, 600.0, 600.0)]  # the second is outside
    result = asyncio.run(models.score_crops(face_crops(IMAGE, boxes, 0.2), ["a", "b"]))
    assert seen == [1] and result == [{"a": 0.5, "b": 0.5}, None]


def test_unavailable_clip_is_not_called() -> None:
    models = emotions(handle())  # no score API: a call would fail the test
    models.clip_health.mark_unavailable("down")
    assert not models.available()
    assert asyncio.run(models.score_crops(face_crops(IMAGE, [(10, 10, 60, 70)], 0.2), None)) == [
        None
    ]


def test_health_reasons_carry_no_internal_address() -> None:
    async def info() -> dict[str, Any]:
        raise aiohttp.ClientConnectionError(SECRET)

    async def clip_health() -> dict[str, Any]:
        raise aiohttp.ClientConnectionError(SECRET)

    models = emotions(handle(health=clip_health))
    endpoint = HealthEndpoint(models.clip_health)
    assert asyncio.run(endpoint()) == (503, {"status": "starting", "clip_service": "unknown"})
    endpoint.faces = faces(handle(info=info))
    asyncio.run(models.check_clip())
    status, body = asyncio.run(endpoint())
    assert status == 503 and body["status"] == "unavailable"
    assert "ClientConnectionError" not in body["reason"]  # a sentence for a person (issue 32)
    assert "10.1.2.3" not in json.dumps(body) and "3001" not in json.dumps(body)
    assert "10.1.2.3" not in str(models.clip_health.reason)


def test_health_degraded_and_synthetic_warning() -> None:
    async def info() -> dict[str, Any]:
        return {**INFO, "synthetic": True}

    models = emotions(handle())
    models.clip_health.mark_unavailable("CLIP model not loaded")
    endpoint = HealthEndpoint(models.clip_health)
    endpoint.faces = faces(handle(info=info))
    status, body = asyncio.run(endpoint())
    assert status == 200 and body["status"] == "degraded" and body["clip_model"] is None
    assert body["reason"] == "CLIP model not loaded" and "synthetic" in body["warning"]


def scripted_clip(answers: list[Any]) -> Any:
    """A model client whose CLIP health answers (or raises) ``answers`` in turn."""

    async def clip_health() -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    return emotions(handle(health=clip_health))


def test_one_failed_clip_check_is_info_two_in_a_row_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[Any] = [AttributeError("health"), AttributeError("health"), {"available": True}]
    models = scripted_clip(answers)
    caplog.set_level("INFO", logger="facereid.analysis.model_client")
    levels = []
    for _ in range(3):
        caplog.clear()
        asyncio.run(models.check_clip())
        levels.append([r.levelname for r in caplog.records if "health check" in r.message])
    assert levels == [["INFO"], ["WARNING"], []]
    assert models.clip_health.available  # the third check answered
    answers.append(AttributeError("health"))
    caplog.clear()
    asyncio.run(models.check_clip())  # a success reset the count: INFO again
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert not models.clip_health.available


def test_no_clip_model_is_said_once_plainly(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 23: without a CLIP model the log repeated a failure on every poll."""
    answers: list[Any] = [AttributeError("health")] * 5 + [
        {"available": False, "reason": "no CLIP model in the store"}
    ] * 5
    models = scripted_clip(answers)
    caplog.set_level("INFO", logger="facereid.analysis.model_client")
    for _ in range(10):
        asyncio.run(models.check_clip())
    failures = [r for r in caplog.records if "health check failed" in r.message]
    plain = [r for r in caplog.records if "no CLIP model is loaded" in r.message]
    assert len(failures) == 2  # INFO, then one WARNING; not one per poll
    assert len(plain) == 1 and plain[0].levelname == "WARNING"
    assert "no CLIP model in the store" in plain[0].message
    assert models.clip_health.reason == "no CLIP model in the store"


def test_start_up_polls_quickly_and_quietly_until_clip_answers(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: /health said degraded for 15-25 s after start because the first polls ran
    before the dependency's client and the next came one full interval later."""
    answers: list[Any] = [AttributeError("health")] * 3 + [{"available": True}] * 2
    models = scripted_clip(answers)
    models.settings = Settings(clip_health_interval_s=30.0)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not answers:
            raise asyncio.CancelledError

    monkeypatch.setattr("facereid.analysis.model_client.asyncio.sleep", fake_sleep)
    caplog.set_level("INFO", logger="facereid.analysis.model_client")
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(models.poll_clip())
    assert sleeps == [0.5, 0.5, 0.5, 30.0, 30.0]  # quick until the answer, then the interval
    assert models.clip_health.available
    assert not [r for r in caplog.records if "health check failed" in r.message]


@pytest.mark.parametrize("starting", [True, False])
def test_clip_reasons_are_sentences_without_class_names(starting: bool) -> None:
    """Issue 32: /health said "CLIP service not reachable (AttributeError)" to a person."""
    models = scripted_clip([AttributeError("health")])
    asyncio.run(models.check_clip(starting=starting))
    reason = str(models.clip_health.reason)
    assert "Error" not in reason  # no exception class
    assert reason.startswith("the CLIP service ") and "emotions are off" in reason

    async def score(crops: list[np.ndarray]) -> list[dict[str, float]]:
        raise aiohttp.ClientConnectionError(SECRET)

    failing = emotions(handle(score=score))
    asyncio.run(failing.score_crops(face_crops(IMAGE, [(10, 10, 60, 70)], 0.2), None))
    assert "Error" not in str(failing.clip_health.reason)
