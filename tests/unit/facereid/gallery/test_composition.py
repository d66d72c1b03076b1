"""GalleryComposition with a fake face model (the boundary) over real GalleryOperations."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facereid.analysis.analyze import Analyzer
from facereid.config import Settings
from facereid.errors import FaceReIDError
from facereid.faces.records import FaceRecord
from facereid.gallery.composition import GalleryComposition
from facereid.gallery.errors import GalleryNotFoundError
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.schemas import DeleteRequest, DropRequest, EnrollRequest, SearchRequest
from facereid.gallery.store import GalleryStore
from facereid.intake.budget import ImageHeader
from facereid.wire.faces import FaceModelInfo, FacesAnswer, FaceWire
from tests.unit.facereid.analysis.fakes import FakeEmotions, model_info
from tests.unit.facereid.gallery.fakes import InProcessGallery

MODEL = "fake/face/8"


def png(value: int) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), value, np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def vec(i: int) -> list[float]:
    out = [0.0] * 8
    out[i] = 1.0
    return out


class FakeFaces:
    """A ``FaceClient``: two faces per image, embeddings e0 and e1, boxes at known places."""

    async def analyze_encoded(
        self,
        header: ImageHeader,
        crops: int,
        attributes: bool = False,
        crop_margin: float | None = None,
    ) -> FacesAnswer:
        assert crops == 0  # a gallery never asks for emotion crops
        faces = [
            FaceWire.model_validate(
                {"bbox": [10, 10, 40, 50], "embedding": vec(0), "score": 0.9}
            ).record(),
            FaceWire.model_validate(
                {"bbox": [50, 5, 90, 45], "embedding": vec(1), "score": 0.8}
            ).record(),
        ]
        return FacesAnswer(faces, [])

    async def model_info(self) -> FaceModelInfo:
        return model_info("fake", "face", 8)

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        raise AssertionError("galleries send encoded images")


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[GalleryComposition]:
    store = GalleryStore(str(tmp_path / "g"), dim=16)
    ops = GalleryOperations(store, {"fake": 0.5})

    settings = Settings()
    analyzer = Analyzer(settings, FakeFaces(), FakeEmotions())
    yield GalleryComposition(settings, InProcessGallery(ops), analyzer)
    store.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_image_enrol_uses_the_primary_face_and_reports_its_box(
    gallery: GalleryComposition,
) -> None:
    enrolled = run(gallery.enroll("t", EnrollRequest(gallery="g", subject="a", image_data=png(1))))
    assert enrolled["embedding_model"] == MODEL
    assert enrolled["bbox"] == [10.0, 10.0, 30.0, 40.0] and enrolled["num_faces"] == 2
    by_vector = EnrollRequest(gallery="g", subject="b", embedding=vec(1), embedding_model=MODEL)
    run(gallery.enroll("t", by_vector))
    found = run(gallery.search("t", SearchRequest(gallery="g", image_data=png(2))))
    assert [m["subject"] for m in found["matches"]] == ["a"]  # b is orthogonal: under 0.5
    every = run(gallery.search("t", SearchRequest(gallery="g", image_data=png(2), all_faces=True)))
    assert [(f["bbox"], [m["subject"] for m in f["matches"]]) for f in every["faces"]] == [
        ([10.0, 10.0, 30.0, 40.0], ["a"]),
        ([50.0, 5.0, 40.0, 40.0], ["b"]),
    ]


def test_store_errors_keep_their_codes(gallery: GalleryComposition) -> None:
    unknown = SearchRequest(gallery="none", embedding=vec(0), embedding_model=MODEL)
    with pytest.raises(FaceReIDError) as caught:
        run(gallery.search("t", unknown))
    assert (caught.value.code, caught.value.status) == ("gallery_not_found", 404)
    assert type(caught.value) is GalleryNotFoundError  # its own class, through the Reply
    with pytest.raises(FaceReIDError) as caught:
        run(gallery.search("t", SearchRequest(gallery="g", embedding=vec(0), all_faces=True)))
    assert caught.value.code == "invalid_gallery_request"
    two = EnrollRequest(gallery="g", embedding=vec(0), embedding_b64="AAAA", embedding_model=MODEL)
    with pytest.raises(FaceReIDError) as caught:
        run(gallery.enroll("t", two))
    assert caught.value.code == "invalid_gallery_request"


def test_erasures_reach_the_video_redaction_and_ids_stay_internal(
    gallery: GalleryComposition,
) -> None:
    seen: list[tuple[str, str | None, list[str] | None]] = []

    async def erased(tenant: str, name: str | None, face_ids: list[str] | None) -> int:
        seen.append((tenant, name, face_ids))
        return 0

    gallery.on_erased = erased
    body = EnrollRequest(gallery="g", subject="a", embedding=vec(1), embedding_model=MODEL)
    face_id = run(gallery.enroll("t", body))["face_id"]
    run(gallery.enroll("t", body.model_copy(update={"embedding": vec(2)})))
    one = DeleteRequest(gallery="g", face_id=face_id)
    assert run(gallery.delete("t", one)).model_dump() == {"deleted": 1}  # no ids outside
    assert seen == [("t", "g", [face_id])]
    run(gallery.delete("t", one))  # nothing erased this time
    assert len(seen) == 1
    run(gallery.drop("t", DropRequest(gallery="g")))
    assert seen[-1] == ("t", "g", None)
