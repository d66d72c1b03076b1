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

from facereid.analysis.analyze import RemoteFaces
from facereid.config import Settings
from facereid.errors import FaceReIDError
from facereid.faces.records import FaceRecord
from facereid.gallery.composition import GalleryCalls, GalleryComposition
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.store import GalleryStore
from facereid.intake.budget import ImageHeader

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
    """Two faces per image: embeddings e0 and e1, boxes at known places."""

    async def read_header(self, image_data: str) -> ImageHeader:
        raw = base64.b64decode(image_data)
        return ImageHeader(raw, width=120, height=100, format="PNG", decoded_pixels=12_000)

    async def analyze_encoded(self, header: ImageHeader, crops: int) -> RemoteFaces:
        assert crops == 0  # a gallery never asks for emotion crops
        faces = [
            FaceRecord.from_wire({"bbox": [10, 10, 40, 50], "embedding": vec(0), "score": 0.9}),
            FaceRecord.from_wire({"bbox": [50, 5, 90, 45], "embedding": vec(1), "score": 0.8}),
        ]
        return RemoteFaces(faces, [])

    async def face_model(self) -> dict[str, Any]:
        return {"embedding_model": MODEL}


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[GalleryComposition]:
    store = GalleryStore(str(tmp_path / "g"), dim=16)
    ops = GalleryOperations(store, {"fake": 0.5})

    async def execute(operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"result": getattr(ops, operation)(**arguments)}
        except FaceReIDError as exc:
            return {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}

    faces = FakeFaces()
    yield GalleryComposition(
        Settings(),
        GalleryCalls(execute, faces.read_header, faces.analyze_encoded, faces.face_model),
    )
    store.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_image_enrol_uses_the_primary_face_and_reports_its_box(
    gallery: GalleryComposition,
) -> None:
    enrolled = run(
        gallery.handle("enroll", "t", {"gallery": "g", "subject": "a", "image_data": png(1)})
    )
    assert enrolled["embedding_model"] == MODEL
    assert enrolled["bbox"] == [10.0, 10.0, 30.0, 40.0] and enrolled["num_faces"] == 2
    run(
        gallery.handle(
            "enroll",
            "t",
            {"gallery": "g", "subject": "b", "embedding": vec(1), "embedding_model": MODEL},
        )
    )
    found = run(gallery.handle("search", "t", {"gallery": "g", "image_data": png(2)}))
    assert [m["subject"] for m in found["matches"]] == ["a"]  # b is orthogonal: under 0.5
    every = run(
        gallery.handle("search", "t", {"gallery": "g", "image_data": png(2), "all_faces": True})
    )
    assert [(f["bbox"], [m["subject"] for m in f["matches"]]) for f in every["faces"]] == [
        ([10.0, 10.0, 30.0, 40.0], ["a"]),
        ([50.0, 5.0, 40.0, 40.0], ["b"]),
    ]


def test_store_errors_keep_their_codes(gallery: GalleryComposition) -> None:
    with pytest.raises(FaceReIDError) as caught:
        run(
            gallery.handle(
                "search", "t", {"gallery": "none", "embedding": vec(0), "embedding_model": MODEL}
            )
        )
    assert (caught.value.code, caught.value.status) == ("gallery_not_found", 404)
    with pytest.raises(FaceReIDError) as caught:
        run(gallery.handle("search", "t", {"gallery": "g", "embedding": vec(0), "all_faces": True}))
    assert caught.value.code == "invalid_gallery_request"
    with pytest.raises(FaceReIDError) as caught:
        run(
            gallery.handle(
                "enroll",
                "t",
                {
                    "gallery": "g",
                    "embedding": vec(0),
                    "embedding_b64": "AAAA",
                    "embedding_model": MODEL,
                },
            )
        )
    assert caught.value.code == "invalid_gallery_request"


def test_erasures_reach_the_video_redaction_and_ids_stay_internal(
    gallery: GalleryComposition,
) -> None:
    seen: list[tuple[str, str | None, list[str] | None]] = []

    async def erased(tenant: str, name: str | None, face_ids: list[str] | None) -> int:
        seen.append((tenant, name, face_ids))
        return 0

    gallery.calls.erased = erased
    body = {"gallery": "g", "subject": "a", "embedding": vec(1), "embedding_model": MODEL}
    face_id = run(gallery.handle("enroll", "t", body))["face_id"]
    run(gallery.handle("enroll", "t", {**body, "embedding": vec(2)}))
    assert run(gallery.handle("delete", "t", {"gallery": "g", "face_id": face_id})) == {
        "deleted": 1
    }
    assert seen == [("t", "g", [face_id])]
    run(gallery.handle("delete", "t", {"gallery": "g", "face_id": face_id}))  # nothing erased
    assert len(seen) == 1
    run(gallery.handle("drop", "t", {"gallery": "g"}))
    assert seen[-1] == ("t", "g", None)
