"""/analyze composition on fakes: no server, no model. The fakes record what they were asked,
so each test pins one decision of ``facereid.analysis.analyze``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from facereid.analysis import analyze
from facereid.analysis.schemas import AnalyzeBatchResponse, AnalyzeResponse
from facereid.errors import (
    BatchTooLargeError,
    CorruptImageError,
    EmptyBatchError,
    InvalidLabelsError,
    NoFaceError,
    PixelBudgetExceededError,
)
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.intake.shipping import ShippedImage

MODEL = {"engine": "insightface", "embedding_model": "insightface/test/4", "synthetic": True}
IMAGE = np.zeros((200, 300, 3), np.uint8)


def face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> FaceRecord:
    vector = np.array([x1, y1, x2, y2], np.float32)
    return FaceRecord(
        bbox=(x1, y1, x2, y2),
        score=score,
        embedding=vector / np.linalg.norm(vector),
        kps=np.array([[x1 + 1.0, y1 + 1.0]] * 5),
    )


class Fakes:
    """Model services that answer ``faces`` and record their calls."""

    def __init__(self, faces: Sequence[FaceRecord], emotions: str = "ok") -> None:
        self.faces = list(faces)
        self.emotion_mode = emotions  # "ok", or "degraded": what ModelClient answers then
        self.decoded: list[str] = []
        self.emotion_calls: list[tuple[list[analyze.Box], list[str] | None]] = []

    async def decode(self, data: str | ImageHeader) -> ShippedImage:
        assert isinstance(data, str)
        self.decoded.append(data)
        if data == "corrupt":
            raise CorruptImageError("not an image")
        if data == "shrunk":  # a 600 x 400 photo shipped at half its size
            return ShippedImage(IMAGE, width=600, height=400)
        return ShippedImage(IMAGE, width=300, height=200)

    async def plan_batch(self, images: list[str]) -> list[analyze.Planned]:
        return [PixelBudgetExceededError("over budget") if d == "huge" else d for d in images]

    async def face_model(self) -> dict[str, Any]:
        return MODEL

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        return [] if self.decoded[-1] == "empty" else list(self.faces)

    async def emotions(
        self, image: np.ndarray, boxes: list[analyze.Box], labels: list[str] | None
    ) -> list[analyze.Emotions]:
        self.emotion_calls.append((boxes, labels))
        if self.emotion_mode == "degraded":
            return [None] * len(boxes)
        names = labels or ["happy", "sad"]
        return [{name: 1.0 / len(names) for name in names} for _ in boxes]

    def calls(self) -> analyze.AnalysisCalls:
        return analyze.AnalysisCalls(
            self.decode, self.face_model, self.detect_embed, self.emotions, self.plan_batch
        )


def run(fakes: Fakes, options: analyze.AnalyzeOptions, data: str = "img") -> dict[str, Any]:
    return asyncio.run(analyze.analyze_image(fakes.calls(), data, options))


BIG, SMALL = face(100, 50, 180, 150), face(10, 10, 40, 50, score=0.99)


def test_primary_face_is_the_first_the_service_returns() -> None:
    fakes = Fakes([BIG, SMALL])
    result = run(fakes, analyze.AnalyzeOptions())
    assert result["num_faces"] == 2
    assert result["embedding"] == pytest.approx(BIG.embedding.tolist())
    assert "faces" not in result  # only with return_all_faces
    # Emotions are scored for the primary face only.
    assert fakes.emotion_calls == [([BIG.bbox], None)]


def test_bbox_is_x_y_width_height_not_corners() -> None:
    result = run(Fakes([BIG]), analyze.AnalyzeOptions())
    # Corners would be [100, 50, 180, 150]; the contract is x, y, w, h.
    assert result["bbox"] == [100.0, 50.0, 80.0, 100.0]
    x, y, w, h = result["bbox"]
    assert (x + w, y + h) == (180.0, 150.0)


def test_return_all_faces_lists_every_face_in_order_with_its_own_emotions() -> None:
    fakes = Fakes([BIG, SMALL])
    result = run(fakes, analyze.AnalyzeOptions(return_all_faces=True))
    assert [f["bbox"] for f in result["faces"]] == [[100.0, 50.0, 80.0, 100.0], [10, 10, 30, 40]]
    assert result["faces"][0]["face_id"] == result["face_id"]
    assert result["faces"][1]["face_id"] != result["face_id"]
    assert fakes.emotion_calls == [([BIG.bbox, SMALL.bbox], None)]
    assert all(f["emotions"] == {"happy": 0.5, "sad": 0.5} for f in result["faces"])
    AnalyzeResponse.model_validate(result)  # the documented 200 schema describes it


def test_emotions_null_when_clip_is_unavailable_or_fails() -> None:
    result = run(Fakes([BIG, SMALL], emotions="degraded"), analyze.AnalyzeOptions(True))
    assert result["emotions"] is None
    assert [f["emotions"] for f in result["faces"]] == [None, None]
    assert result["embedding_model"] == MODEL["embedding_model"]  # the rest still answers


def test_include_emotions_false_skips_clip() -> None:
    fakes = Fakes([BIG])
    result = run(fakes, analyze.AnalyzeOptions(include_emotions=False))
    assert result["emotions"] is None and fakes.emotion_calls == []


def test_labels_reach_clip_cleaned() -> None:
    fakes = Fakes([BIG])
    result = run(fakes, analyze.AnalyzeOptions(emotion_labels=[" calm ", "excited"]))
    assert fakes.emotion_calls == [([BIG.bbox], ["calm", "excited"])]
    assert set(result["emotions"]) == {"calm", "excited"}


@pytest.mark.parametrize("labels", [[], ["a", "A"], [""], ["x" * 65], ["a"] * 33])
def test_bad_labels_rejected_before_model_work(labels: list[str]) -> None:
    fakes = Fakes([BIG])
    with pytest.raises(InvalidLabelsError):
        run(fakes, analyze.AnalyzeOptions(emotion_labels=labels))
    with pytest.raises(InvalidLabelsError):
        options = analyze.AnalyzeOptions(emotion_labels=labels)
        asyncio.run(analyze.analyze_batch(fakes.calls(), ["a", "b"], options, 4))
    assert fakes.decoded == [] and fakes.emotion_calls == []


def test_no_face_is_an_error_not_an_empty_answer() -> None:
    fakes = Fakes([BIG])
    with pytest.raises(NoFaceError) as caught:
        run(fakes, analyze.AnalyzeOptions(), data="empty")
    assert (caught.value.code, caught.value.status) == ("no_face_detected", 422)
    assert fakes.emotion_calls == []


def test_face_fields_follow_the_record() -> None:
    result = run(Fakes([BIG]), analyze.AnalyzeOptions())
    assert result["confidence"] == pytest.approx(0.9)
    assert result["keypoints"] == [[101.0, 51.0]] * 5
    assert result["landmarks"] == result["keypoints"]  # no 106-point model: the 5 points
    assert result["model_synthetic"] is True
    assert result["timestamp"].endswith("Z")


def test_batch_keeps_order_and_answers_each_image_error_in_place() -> None:
    fakes = Fakes([BIG])
    options = analyze.AnalyzeOptions()
    body = asyncio.run(analyze.analyze_batch(fakes.calls(), ["a", "corrupt", "empty"], options, 4))
    assert body["count"] == 3
    assert body["results"][0]["bbox"] == [100.0, 50.0, 80.0, 100.0]
    assert body["results"][1] == {"error": {"code": "corrupt_image", "message": "not an image"}}
    assert body["results"][2]["error"]["code"] == "no_face_detected"
    AnalyzeBatchResponse.model_validate(body)


@pytest.mark.parametrize(
    ("images", "error"), [([], EmptyBatchError), (["a"] * 5, BatchTooLargeError)]
)
def test_batch_size_checked_before_any_decode(images: list[str], error: type[Exception]) -> None:
    fakes = Fakes([BIG])
    with pytest.raises(error):
        asyncio.run(analyze.analyze_batch(fakes.calls(), images, analyze.AnalyzeOptions(), 4))
    assert fakes.decoded == []


def test_faces_of_a_shrunk_image_are_answered_in_original_pixels() -> None:
    fakes = Fakes([BIG])
    result = run(fakes, analyze.AnalyzeOptions(include_emotions=False), data="shrunk")
    # BIG is (100, 50)-(180, 150) in the shipped image: twice that in the original.
    assert result["bbox"] == [200.0, 100.0, 160.0, 200.0]
    assert result["landmarks"][0] == [202.0, 102.0]


def test_an_image_over_the_batch_budget_gets_its_own_error_and_no_decode() -> None:
    fakes = Fakes([BIG])
    options = analyze.AnalyzeOptions(include_emotions=False)
    answer = asyncio.run(analyze.analyze_batch(fakes.calls(), ["a", "huge", "b"], options, 32))
    codes = [r.get("error", {}).get("code") for r in answer["results"]]
    assert codes == [None, "pixel_budget_exceeded", None]
    assert fakes.decoded == ["a", "b"]
