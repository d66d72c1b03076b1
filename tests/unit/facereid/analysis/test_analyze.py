"""/analyze composition on fakes of the typed clients (``facereid.wire.clients``): the served
path, with real headers read from real image bytes, and no server or model. The fakes
record what they were asked, so each test pins one decision of ``facereid.analysis.analyze``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from facereid.analysis import analyze
from facereid.analysis.schemas import AnalyzeBatchResponse, AnalyzeResponse
from facereid.config import Settings
from facereid.errors import (
    BatchTooLargeError,
    EmptyBatchError,
    InvalidLabelsError,
    NoFaceError,
)
from facereid.faces.records import FaceRecord
from tests.unit.facereid.analysis.fakes import (
    CORRUPT,
    EMPTY,
    IMG,
    MODEL,
    OTHER,
    FakeEmotions,
    FakeFaces,
    face,
    png,
)

TENANT = "t"


class Fakes:
    def __init__(self, faces: Sequence[FaceRecord], emotions: str = "ok", **settings: Any) -> None:
        self.faces = FakeFaces(faces)
        self.emotions = FakeEmotions(emotions)
        self.analyzer = analyze.Analyzer(
            Settings(max_batch_images=4, **settings), self.faces, self.emotions
        )

    @property
    def emotion_calls(self) -> list[tuple[list[int], list[str] | None]]:
        return self.emotions.calls


def run(fakes: Fakes, options: analyze.AnalyzeOptions, data: str = IMG) -> dict[str, Any]:
    return asyncio.run(fakes.analyzer.analyze(data, options, TENANT))


def batch(fakes: Fakes, images: list[str], options: analyze.AnalyzeOptions) -> dict[str, Any]:
    return asyncio.run(fakes.analyzer.analyze_batch(images, options, TENANT))


BIG, SMALL = face(100, 50, 180, 150), face(10, 10, 40, 50, score=0.99)


def test_primary_face_is_the_first_the_service_returns() -> None:
    fakes = Fakes([BIG, SMALL])
    result = run(fakes, analyze.AnalyzeOptions())
    assert result["num_faces"] == 2
    assert result["embedding"] == pytest.approx(BIG.embedding.tolist())
    assert "faces" not in result  # only with return_all_faces
    # Emotions are scored for the primary face only.
    assert fakes.emotion_calls == [([0], None)]


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
    assert fakes.emotion_calls == [([0, 1], None)]
    assert all(f["emotions"] == {"happy": 0.5, "sad": 0.5} for f in result["faces"])
    AnalyzeResponse.model_validate(result)  # the documented 200 schema describes it


def test_emotions_null_when_clip_is_unavailable_or_fails() -> None:
    result = run(Fakes([BIG, SMALL], emotions="degraded"), analyze.AnalyzeOptions(True))
    assert result["emotions"] is None
    assert [f["emotions"] for f in result["faces"]] == [None, None]
    assert result["embedding_model"] == MODEL.embedding_model  # the rest still answers


def test_include_emotions_false_skips_clip() -> None:
    fakes = Fakes([BIG])
    result = run(fakes, analyze.AnalyzeOptions(include_emotions=False))
    assert result["emotions"] is None and fakes.emotion_calls == []


def test_labels_reach_clip_cleaned() -> None:
    fakes = Fakes([BIG])
    result = run(fakes, analyze.AnalyzeOptions(emotion_labels=[" calm ", "excited"]))
    assert fakes.emotion_calls == [([0], ["calm", "excited"])]
    assert set(result["emotions"]) == {"calm", "excited"}


@pytest.mark.parametrize("labels", [[], ["a", "A"], [""], ["x" * 65], ["a"] * 33])
def test_bad_labels_rejected_before_model_work(labels: list[str]) -> None:
    fakes = Fakes([BIG])
    with pytest.raises(InvalidLabelsError):
        run(fakes, analyze.AnalyzeOptions(emotion_labels=labels))
    with pytest.raises(InvalidLabelsError):
        options = analyze.AnalyzeOptions(emotion_labels=labels)
        batch(fakes, [IMG, OTHER], options)
    assert fakes.faces.seen == [] and fakes.emotion_calls == []


def test_no_face_is_an_error_not_an_empty_answer() -> None:
    fakes = Fakes([BIG])
    with pytest.raises(NoFaceError) as caught:
        run(fakes, analyze.AnalyzeOptions(), data=EMPTY)
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
    body = batch(fakes, [IMG, CORRUPT, EMPTY], options)
    assert body["count"] == 3
    assert body["results"][0]["bbox"] == [100.0, 50.0, 80.0, 100.0]
    assert body["results"][1]["error"]["code"] == "unsupported_image"  # read here, no model
    assert body["results"][2]["error"]["code"] == "no_face_detected"
    AnalyzeBatchResponse.model_validate(body)


@pytest.mark.parametrize(
    ("images", "error"), [([], EmptyBatchError), ([IMG] * 5, BatchTooLargeError)]
)
def test_batch_size_checked_before_any_model_call(
    images: list[str], error: type[Exception]
) -> None:
    fakes = Fakes([BIG])
    with pytest.raises(error):
        batch(fakes, images, analyze.AnalyzeOptions())
    assert fakes.faces.seen == []


def test_an_image_over_the_batch_budget_gets_its_own_error_and_no_model_call() -> None:
    fakes = Fakes([BIG], max_batch_pixels=2 * 300 * 200 + 1)
    options = analyze.AnalyzeOptions(include_emotions=False)
    answer = batch(fakes, [IMG, png(3, 600, 400), OTHER], options)
    codes = [r.get("error", {}).get("code") for r in answer["results"]]
    assert codes == [None, "pixel_budget_exceeded", None]
    assert len(fakes.faces.seen) == 2
