"""The dlib engine's attributes on real photos: pose from its 68 points (a frontal face
reads near 0 yaw, a turned one tens of degrees), age and gender null with the reason."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facereid.config import Settings
from facereid.engines.dlib_engine import AGE_GENDER_REASON, DlibEngine

pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def engine() -> DlibEngine:
    return DlibEngine(Settings())


def yaw_of(engine: DlibEngine, path: Path) -> float:
    image = np.asarray(cv2.imread(str(path)), dtype=np.uint8)
    (faces,) = engine.detect([image])
    (attrs,) = engine.attributes([image], faces[:1])
    assert attrs.age is None and attrs.gender is None and attrs.gender_probability is None
    assert attrs.reason == AGE_GENDER_REASON
    assert attrs.pose is not None
    assert abs(attrs.pose.roll) < 20  # upright faces: never the upside-down PnP solution
    return attrs.pose.yaw


def test_frontal_faces_read_small_yaw_and_turned_faces_large(
    engine: DlibEngine, shared_faces: Path
) -> None:
    obama = shared_faces / "identities" / "obama"
    # the same frontal frame at four resolutions, and the small one
    for name in ("obama-240p.jpg", "obama-480p.jpg", "obama-1080p.jpg", "obama_small.jpg"):
        assert abs(yaw_of(engine, obama / name)) < 8, name
    # obama1 looks to one side, obama2 to the other
    assert yaw_of(engine, obama / "obama1.jpg") < -20
    assert yaw_of(engine, obama / "obama2.jpg") > 20
