"""/analyze with either emotion engine (fakes): fer's fixed labels are checked in the API
process before any model work, the engine's crop margin reaches the face service, and every
face answer names the model that scored its emotions."""

from __future__ import annotations

import asyncio

import pytest

from facereid.analysis import analyze
from facereid.config import Settings
from facereid.emotion.fer_model import FER_CROP_MARGIN, FER_LABELS
from facereid.errors import UnsupportedEmotionLabelsError
from facereid.wire.emotion import ClipStatus
from tests.unit.facereid.analysis.fakes import IMG, FakeEmotions, FakeFaces, face

FER = ClipStatus(
    available=True,
    model="facereid-fer:test",
    engine="fer",
    crop_margin=FER_CROP_MARGIN,
    fixed_labels=list(FER_LABELS),
)


def analyzer(status: ClipStatus | None, mode: str = "ok") -> analyze.Analyzer:
    emotions = FakeEmotions(mode)
    if status is not None:
        emotions.engine_status = status
    faces = FakeFaces([face(100, 50, 180, 150), face(10, 10, 40, 50)])
    return analyze.Analyzer(Settings(max_batch_images=4), faces, emotions)


def run(target: analyze.Analyzer, **options: object) -> dict[str, object]:
    return asyncio.run(target.analyze(IMG, analyze.AnalyzeOptions(**options), "t"))  # type: ignore[arg-type]


@pytest.mark.parametrize("labels", [["happy", "joy"], ["contempt"], ["surprise", "surprised"]])
def test_fer_refuses_labels_outside_its_seven_before_model_work(labels: list[str]) -> None:
    target = analyzer(FER)
    with pytest.raises(UnsupportedEmotionLabelsError) as caught:
        run(target, emotion_labels=labels)
    assert caught.value.code == "unsupported_emotion_labels" and caught.value.status == 422
    assert target.faces.seen == [] and target.emotions.calls == []  # type: ignore[attr-defined]


def test_fer_refuses_them_for_a_whole_batch_before_any_image() -> None:
    target = analyzer(FER)
    options = analyze.AnalyzeOptions(emotion_labels=["bored"])
    with pytest.raises(UnsupportedEmotionLabelsError):
        asyncio.run(target.analyze_batch([IMG, IMG], options, "t"))
    assert target.faces.seen == []  # type: ignore[attr-defined]


def test_fer_takes_a_subset_in_any_case_and_its_margin_reaches_the_face_service() -> None:
    target = analyzer(FER)
    answer = run(target, emotion_labels=["Happy", "sad"])
    assert target.emotions.calls[0][1] == ["Happy", "sad"]  # type: ignore[attr-defined]
    assert target.faces.margins == [FER_CROP_MARGIN]  # type: ignore[attr-defined]
    assert answer["emotion_model"] == "facereid-fer:test"


def test_clip_takes_any_labels_and_its_crops_keep_the_default_margin() -> None:
    target = analyzer(None)  # the fake's CLIP status: no crop margin of its own
    answer = run(target, emotion_labels=["bored"], return_all_faces=True)
    assert target.faces.margins == [None]  # type: ignore[attr-defined]
    faces = answer["faces"]
    assert isinstance(faces, list) and len(faces) == 2
    assert {f["emotion_model"] for f in faces} == {"facereid-clip:test"}


def test_emotion_model_is_null_when_emotions_are_off_or_the_service_is_down() -> None:
    assert run(analyzer(FER), include_emotions=False)["emotion_model"] is None
    down = run(analyzer(FER, mode="down"), emotion_labels=["bored"])  # no engine: no check
    assert down["emotions"] is None and down["emotion_model"] is None
    degraded = run(analyzer(FER, mode="degraded"))
    assert degraded["emotions"] is None and degraded["emotion_model"] is None
