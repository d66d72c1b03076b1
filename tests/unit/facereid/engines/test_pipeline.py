"""The face service's pipeline (issue 15) against the API-side intake it replaced: the same
faces, landmarks and embeddings on real photos, per-image errors, and the pixel gate."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from facereid.config import Settings
from facereid.engines.insightface_engine import InsightFaceEngine
from facereid.engines.pipeline import analyze_encoded
from facereid.errors import CorruptImageError, ImageTooLargeError
from facereid.faces.quality import face_quality
from facereid.faces.records import FaceRecord, ModelInfo
from facereid.intake.budget import header_limits, read_header
from facereid.intake.service_decode import ServiceDecoder, ThreadPixelGate
from facereid.intake.shipping import decode_for_shipping
from facereid.wire.errors import error_from_wire
from facereid.wire.faces import EncodedRequest

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

INFO = ModelInfo(engine="insightface", name="buffalo_l", source="synthetic", embedding_dim=512)
SETTINGS = Settings(det_size=640, ort_intra_op_threads=1, face_decode_threads=2)


@pytest.fixture(scope="module")
def engine(insightface_pack: Path) -> InsightFaceEngine:
    return InsightFaceEngine(insightface_pack, INFO, SETTINGS)


def photos(shared_faces: Path, t1_path: Path) -> list[bytes]:
    files = sorted(
        p for p in shared_faces.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    t1 = cv2.imread(str(t1_path))
    assert t1 is not None
    big = cv2.resize(
        t1, (3000, round(3000 * t1.shape[0] / t1.shape[1])), interpolation=cv2.INTER_CUBIC
    )
    ok, big_jpeg = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok and files
    return [p.read_bytes() for p in files] + [t1_path.read_bytes(), bytes(big_jpeg)]


def _same_points(new: np.ndarray | None, old: np.ndarray | None) -> bool:
    if new is None or old is None:
        return new is old
    return new.shape == old.shape and np.allclose(new, old, atol=1e-4)


def old_intake(engine: InsightFaceEngine, raw: bytes) -> list[FaceRecord]:
    """What /analyze did before: decode in the API, ship the array, detect and embed in the
    face service, map back with ``to_original``."""
    header = read_header(base64.b64encode(raw).decode(), **header_limits(SETTINGS))
    shipped = decode_for_shipping(header, ship_side=SETTINGS.max_ship_side)
    faces = engine.detect([shipped.image])[0]
    embeddings = engine.embed([shipped.image] * len(faces), faces)
    records = []
    for face, emb in zip(faces, embeddings, strict=True):
        record = FaceRecord.from_detection(face, emb)
        quality = face_quality(shipped.image, record.bbox, record.score, record.kps)  # shipped px
        records.append(shipped.to_original(replace(record, quality=quality)))
    return records


def test_faces_match_the_old_intake_on_real_photos(
    engine: InsightFaceEngine, shared_faces: Path, t1_path: Path
) -> None:
    raws = photos(shared_faces, t1_path)
    decoder = ServiceDecoder(SETTINGS)
    # Batches of three, as the face service sees them (images decoded side by side).
    answers = []
    for start in range(0, len(raws), 3):
        chunk = [EncodedRequest(raw=raw) for raw in raws[start : start + 3]]
        answers += analyze_encoded(engine, decoder, chunk)
    total = 0
    for raw, answer in zip(raws, answers, strict=True):
        expected = old_intake(engine, raw)
        got = [face.record() for face in answer.faces]
        assert len(got) == len(expected)
        for new, old in zip(got, expected, strict=True):
            assert new.bbox == pytest.approx(old.bbox, abs=1e-4)
            assert _same_points(new.kps, old.kps)
            assert _same_points(new.landmarks_106, old.landmarks_106)
            assert np.allclose(new.embedding, old.embedding, atol=1e-6)
            assert new.quality is not None and new.quality == old.quality  # across the wire
        total += len(got)
    assert total > 0  # the comparison saw faces, not only empty lists


def test_geometry_of_a_downscaled_photo_is_in_original_pixels(
    engine: InsightFaceEngine, t1_path: Path
) -> None:
    t1 = cv2.imread(str(t1_path))
    assert t1 is not None
    big = cv2.resize(t1, (2560, round(2560 * t1.shape[0] / t1.shape[1])))
    ok, jpeg = cv2.imencode(".jpg", big)
    assert ok
    decoder = ServiceDecoder(SETTINGS)
    answer = analyze_encoded(engine, decoder, [EncodedRequest(raw=bytes(jpeg))])[0]
    shipped = decoder.decode(bytes(jpeg))
    assert shipped.image.shape[1] == 1920  # the face service saw the shipped size ...
    in_shipped = engine.detect([shipped.image])[0]
    assert in_shipped
    scale = 2560 / 1920  # ... and answered in the original's pixels
    for face, seen in zip(answer.faces, in_shipped, strict=True):
        assert np.allclose(face.bbox, seen.bbox * scale, rtol=1e-3)
        assert face.kps is not None
        assert np.allclose(face.kps, np.asarray(seen.kps) * scale, rtol=1e-3)


def test_crops_come_for_the_faces_asked_for(engine: InsightFaceEngine, t1_path: Path) -> None:
    raw = t1_path.read_bytes()
    one, every = analyze_encoded(
        engine,
        ServiceDecoder(SETTINGS),
        [EncodedRequest(raw=raw, crops=1), EncodedRequest(raw=raw, crops=99)],
    )
    assert len(one.crops) == 1 and len(every.crops) == len(every.faces) > 1
    crop = one.crops[0]
    assert crop is not None and crop.ndim == 3 and crop.shape[2] == 3 and crop.dtype == np.uint8


def test_a_requests_crop_margin_is_the_one_cut(engine: InsightFaceEngine, t1_path: Path) -> None:
    """The emotion engine's margin (fer's 0.1) comes with the request; without one, the
    setting's (CLIP's 0.25)."""
    raw = t1_path.read_bytes()
    tight, default = analyze_encoded(
        engine,
        ServiceDecoder(SETTINGS),
        [EncodedRequest(raw=raw, crops=1, crop_margin=0.1), EncodedRequest(raw=raw, crops=1)],
    )
    x1, y1, x2, y2 = tight.faces[0].bbox
    assert tight.crops[0] is not None and default.crops[0] is not None
    height, width = tight.crops[0].shape[:2]
    assert abs(width - 1.2 * (x2 - x1)) <= 2 and abs(height - 1.2 * (y2 - y1)) <= 2
    assert default.crops[0].shape[1] > width  # 1.5x the box, t1's faces are far from edges


def test_a_broken_image_is_its_own_answer_not_the_batchs(
    engine: InsightFaceEngine, t1_path: Path
) -> None:
    raw = t1_path.read_bytes()
    requests = [
        EncodedRequest(raw=raw[: len(raw) // 3]),
        EncodedRequest(raw=raw),
        EncodedRequest(raw=b"xx"),
    ]
    truncated, good, junk = analyze_encoded(engine, ServiceDecoder(SETTINGS), requests)
    assert good.faces
    assert truncated.error is not None and junk.error is not None
    assert isinstance(error_from_wire(truncated.error), CorruptImageError)
    assert error_from_wire(junk.error).code == "unsupported_image"


def test_limits_are_checked_again_in_the_face_service(engine: InsightFaceEngine) -> None:
    small = Settings(max_image_side=64, max_image_pixels=64 * 64)
    ok, jpeg = cv2.imencode(".jpg", np.zeros((100, 100, 3), np.uint8))
    assert ok
    answer = analyze_encoded(engine, ServiceDecoder(small), [EncodedRequest(raw=bytes(jpeg))])[0]
    assert answer.error is not None
    assert isinstance(error_from_wire(answer.error), ImageTooLargeError)


def test_pixel_gate_never_holds_more_than_its_capacity() -> None:
    gate = ThreadPixelGate(capacity=100)
    peak, lock = [0], threading.Lock()

    def hold(pixels: int) -> None:
        with gate.hold(pixels):
            with lock:
                peak[0] = max(peak[0], gate.in_use)
            time.sleep(0.01)

    threads = [threading.Thread(target=hold, args=(p,)) for p in (60, 60, 30, 500, 10) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0 < peak[0] <= 100  # 500 counts as the whole capacity, alone
    assert gate.in_use == 0


@pytest.mark.parametrize("groups", [2, 3, 8])
def test_a_batch_in_groups_answers_what_one_group_answers(
    engine: InsightFaceEngine, t1_path: Path, groups: int
) -> None:
    """Groups run side by side on the decode pool (CPU inference); every image must still get
    its own answer, in order, errors included, whatever the split."""
    raw = t1_path.read_bytes()
    t1 = cv2.imread(str(t1_path))
    assert t1 is not None
    ok, flipped = cv2.imencode(".jpg", t1[:, ::-1])
    assert ok
    requests = [
        EncodedRequest(raw=raw, crops=2),
        EncodedRequest(raw=b"xx"),
        EncodedRequest(raw=bytes(flipped), crops=1),
        EncodedRequest(raw=raw[: len(raw) // 3]),
        EncodedRequest(raw=bytes(flipped)),
    ]
    decoder = ServiceDecoder(SETTINGS)
    whole = analyze_encoded(engine, decoder, requests)
    split = analyze_encoded(engine, decoder, requests, groups=groups)
    assert len(split) == len(whole) == len(requests)
    for one, other in zip(whole, split, strict=True):
        assert (one.error is None) == (other.error is None)
        if one.error is not None:
            assert one.error == other.error
            continue
        assert len(one.faces) == len(other.faces) > 0
        for a, b in zip(one.faces, other.faces, strict=True):
            assert a.bbox == pytest.approx(b.bbox, rel=1e-6)
            assert np.allclose(a.embedding, b.embedding, rtol=1e-5, atol=1e-6)
        shapes = [[None if c is None else c.shape for c in x.crops] for x in (one, other)]
        assert shapes[0] == shapes[1]
    # the flipped photo's faces are not the original's: answers did not trade places
    assert split[0].faces[0].bbox != pytest.approx(split[2].faces[0].bbox, abs=1.0)


def test_attributes_only_for_the_images_that_ask(engine: InsightFaceEngine, t1_path: Path) -> None:
    """One batch, one image flagged: its faces carry the engine's attributes (as the engine
    computes them for those faces), the other image's faces none; all survive the wire."""
    raw = t1_path.read_bytes()
    requests = [EncodedRequest(raw=raw), EncodedRequest(raw=raw, attributes=True)]
    plain, asked = analyze_encoded(engine, ServiceDecoder(SETTINGS), requests)
    assert plain.faces and all(face.attributes is None for face in plain.faces)
    records = [face.record() for face in asked.faces]
    assert records and all(r.attributes is not None for r in records)
    image = cv2.imread(str(t1_path))
    assert image is not None
    (faces,) = engine.detect([np.asarray(image, np.uint8)])
    direct = engine.attributes([np.asarray(image, np.uint8)] * len(faces), faces)
    assert [r.attributes for r in records] == direct
