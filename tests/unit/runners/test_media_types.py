"""Each model service's answers carry the media type BentoML would compute, worked out once."""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

import numpy as np
import pytest
from _bentoml_impl.serde import Payload, PickleSerde

from facereid.wire.faces import FacesWire, FaceWire
from runners.emotion import EmotionModel
from runners.face import FaceModel
from runners.gallery import GalleryStoreService

SERVICES: list[Any] = [FaceModel, EmotionModel, GalleryStoreService]  # bentoml.Service objects
APIS = [(service, name) for service in SERVICES for name in service.apis]


@pytest.mark.parametrize(("service", "name"), APIS, ids=lambda v: getattr(v, "name", v))
def test_each_answer_has_the_media_type_bentoml_computes(service: Any, name: str) -> None:
    spec = service.apis[name].output_spec
    fixed = spec.media_type
    assert fixed is not None
    spec.media_type = None
    try:
        computed = spec.mime_type()  # BentoML's own answer, from the schema
    finally:
        spec.media_type = fixed
    assert fixed == computed


def test_a_face_answer_is_sent_without_building_its_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SERVICES[0].apis["analyze_encoded"].output_spec

    def no_schema(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the answer's JSON schema was built for a response")

    monkeypatch.setattr(spec, "model_json_schema", no_schema)
    face = FaceWire(bbox=[1, 2, 30, 40], score=0.9, embedding=np.arange(4, dtype=np.float32))
    serde = PickleSerde()
    response = asyncio.run(spec.to_http_response([FacesWire(faces=[face])], serde))
    assert response.media_type == "application/json"
    data = b"".join(bytes(chunk) for chunk in response.body_iterator)
    payload = Payload((data,), dict(response.headers))
    [answer] = serde.deserialize_model(payload, spec).root
    np.testing.assert_array_equal(
        FacesWire.model_validate(answer).faces[0].embedding, face.embedding
    )
