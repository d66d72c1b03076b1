"""Images shipped to the face service at a bounded size, faces mapped back (issue 12).

Parity: real photos within the bound decode to exactly the array they always did; photos
above it are detected on the shipped image and their faces land where a full-size
detection puts them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facereid.config import Settings
from facereid.faces.records import FaceRecord
from facereid.intake.budget import read_header
from facereid.intake.images import decode_image_bytes
from facereid.intake.shipping import ShippedImage, decode_for_shipping
from tests.unit.facereid.intake.test_budget import jpeg

SHIP = 1920
LIMITS = {"max_side": 4096, "max_pixels": 4096 * 4096, "ship_side": SHIP}


def _photos(shared_faces: Path, t1_path: Path) -> list[Path]:
    found = sorted(p for p in shared_faces.rglob("*") if p.suffix in (".jpg", ".jpeg", ".png"))
    return [*found, t1_path]


@pytest.mark.testdata
def test_photos_within_the_bound_decode_exactly_as_before(
    shared_faces: Path, t1_path: Path
) -> None:
    within = 0
    for path in _photos(shared_faces, t1_path):
        raw = path.read_bytes()
        header = read_header(raw, **LIMITS)
        if max(header.width, header.height) > SHIP:
            continue
        within += 1
        shipped = decode_for_shipping(header, ship_side=SHIP)
        before = decode_image_bytes(raw, max_side=4096, max_pixels=4096 * 4096)
        assert shipped.image.dtype == before.dtype and np.array_equal(shipped.image, before), path
        face = _record([1.0, 2.0, 3.0, 4.0], kps=[[1.0, 1.0]])
        assert shipped.to_original(face) is face  # no rescaling at all
    assert within >= 20


@pytest.mark.testdata
def test_photos_above_the_bound_are_shipped_smaller(shared_faces: Path) -> None:
    for name in ("scenes/obama_and_biden.jpg", "identities/obama/obama3.jpg"):
        raw = (shared_faces / name).read_bytes()
        header = read_header(raw, **LIMITS)
        shipped = decode_for_shipping(header, ship_side=SHIP)
        assert max(shipped.image.shape[:2]) == SHIP
        assert (shipped.width, shipped.height) == (header.width, header.height)
        ratio = shipped.image.shape[1] / shipped.image.shape[0]
        assert ratio == pytest.approx(header.width / header.height, rel=0.01)


@pytest.mark.testdata
@pytest.mark.slow
def test_faces_found_on_the_shipped_image_map_back_to_full_size(shared_faces: Path) -> None:
    pytest.importorskip("dlib")
    from facereid.engines.dlib_engine import DlibEngine

    engine = DlibEngine(Settings())
    raw = (shared_faces / "scenes" / "obama_and_biden.jpg").read_bytes()  # 2000 x 1428
    full = decode_image_bytes(raw, max_side=4096, max_pixels=4096 * 4096)
    shipped = decode_for_shipping(read_header(raw, **LIMITS), ship_side=SHIP)
    assert shipped.image.shape[1] == SHIP
    full_faces = engine.detect([full])[0]
    small_faces = engine.detect([shipped.image])[0]
    assert len(full_faces) == len(small_faces) == 3
    full_emb = engine.embed([full] * 3, full_faces)
    small_emb = engine.embed([shipped.image] * 3, small_faces)
    for j, small in enumerate(small_faces):
        assert small.kps is not None
        mapped = shipped.to_original(_record(small.bbox.tolist(), kps=small.kps.tolist()))
        ious = [_iou(list(mapped.bbox), f.bbox.tolist()) for f in full_faces]
        i = int(np.argmax(ious))
        assert ious[i] > 0.7, (ious, mapped.bbox)  # HOG boxes come in pyramid steps
        kps_error = np.abs(np.asarray(mapped.kps) - full_faces[i].kps).max()
        assert kps_error < 0.1 * (full_faces[i].bbox[2] - full_faces[i].bbox[0])
        assert float(full_emb[i] @ small_emb[j]) > 0.95  # the same identity vector


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _record(
    bbox: list[float],
    kps: list[list[float]] | None = None,
    landmarks: list[list[float]] | None = None,
) -> FaceRecord:
    x1, y1, x2, y2 = bbox
    embedding = np.full(4, 0.5, np.float32)
    k, lm = (None if p is None else np.asarray(p, np.float64) for p in (kps, landmarks))
    return FaceRecord((x1, y1, x2, y2), 0.9, embedding, kps=k, landmarks_106=lm)


def test_to_original_scales_every_point() -> None:
    shipped = ShippedImage(np.zeros((960, 1280, 3), np.uint8), width=2560, height=1920)
    face = _record([10.0, 20.0, 110.0, 220.0], [[50.0, 60.0], [70.0, 80.0]], [[1.0, 2.0]])
    out = shipped.to_original(face)
    assert out.bbox == (20.0, 40.0, 220.0, 440.0)
    assert out.kps is not None and out.kps.tolist() == [[100.0, 120.0], [140.0, 160.0]]
    assert out.landmarks_106 is not None and out.landmarks_106.tolist() == [[2.0, 4.0]]
    assert out.score == 0.9 and out.embedding is face.embedding
    assert face.bbox == (10.0, 20.0, 110.0, 220.0)  # the input is not modified
    assert face.kps is not None and face.kps.tolist() == [[50.0, 60.0], [70.0, 80.0]]
    assert shipped.to_original(_record([0, 0, 1, 1])).kps is None


def test_tiny_rgba_webp_is_decoded_to_the_shipping_size_on_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (4096, 4096), (0, 0, 255, 0)).save(buf, "WEBP", lossless=True)
    shipped = decode_for_shipping(read_header(buf.getvalue(), **LIMITS), ship_side=SHIP)
    assert shipped.image.shape == (SHIP, SHIP, 3)
    assert (shipped.image == 255).all()  # fully transparent: white, never the hidden blue


def test_rotated_large_jpeg_keeps_its_orientation() -> None:
    raw = jpeg(4000, 3000, orientation=6)  # stored landscape, shown portrait
    shipped = decode_for_shipping(read_header(raw, **LIMITS), ship_side=SHIP)
    assert shipped.image.shape[:2] == (1920, 1440)
    assert (shipped.width, shipped.height) == (3000, 4000)
    assert shipped.scale_x == pytest.approx(3000 / 1440)


def test_large_jpeg_is_decoded_reduced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JPEG decoder is asked for 1/2 scale: never the 4096^2 array."""
    from PIL import JpegImagePlugin

    seen: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self: JpegImagePlugin.JpegImageFile):  # type: ignore[no-untyped-def]
        seen.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    decode_for_shipping(read_header(jpeg(4096, 4096), **LIMITS), ship_side=SHIP)
    assert seen and seen[0] == (2048, 2048)
