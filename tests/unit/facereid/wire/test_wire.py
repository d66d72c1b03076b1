"""The doors' records: each error code comes back as its own class with its status, and the
face service's records survive their wire form."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from facereid.errors import CorruptImageError, FaceReIDError, ModelOverloadedError
from facereid.faces.records import FaceRecord
from facereid.gallery.errors import GalleryBusyError, GalleryNotFoundError
from facereid.wire.errors import contract_body, error_from_wire, error_to_wire
from facereid.wire.faces import (
    EncodedRequest,
    FaceModelInfo,
    FacesAnswer,
    FacesWire,
    answer_from_wire,
    answer_to_wire,
)
from tests.unit.facereid.analysis.fakes import model_info


@pytest.mark.parametrize(
    "error",
    [
        CorruptImageError("bad bytes"),
        ModelOverloadedError("busy"),
        GalleryNotFoundError("no such gallery"),
        GalleryBusyError("clustering"),
    ],
)
def test_an_error_comes_back_as_its_own_class(error: FaceReIDError) -> None:
    back = error_from_wire(error_to_wire(error))
    assert type(back) is type(error)
    assert (back.code, back.message, back.status) == (error.code, error.message, error.status)


def test_an_unknown_code_keeps_its_code_and_status() -> None:
    back = error_from_wire({"code": "from_the_future", "message": "m", "status": 418})
    assert type(back) is FaceReIDError
    assert (back.code, back.status) == ("from_the_future", 418)
    assert error_from_wire({"message": "m", "status": 200}).status == 500  # not an error status


def test_the_contract_body_has_no_status() -> None:
    assert contract_body(CorruptImageError("m")) == {
        "error": {"code": "corrupt_image", "message": "m"}
    }


def test_encoded_request_refuses_anything_but_bytes() -> None:
    with pytest.raises(ValidationError):
        EncodedRequest.model_validate({"raw": ["not", "bytes"]})
    assert EncodedRequest.model_validate({"raw": b"x", "crops": -3}).crops == 0
    request = EncodedRequest(raw=b"abc", crops=2)
    assert EncodedRequest.model_validate(request.model_dump()) == request


def test_a_faces_answer_and_an_image_error_cross_and_come_back() -> None:
    face = FaceRecord((1.0, 2.0, 30.0, 40.0), 0.9, np.array([0.6, 0.8], np.float32))
    crop = np.zeros((4, 4, 3), np.uint8)
    wire = answer_to_wire(FacesAnswer([face], [crop, None]))
    back = answer_from_wire(FacesWire.model_validate(wire.model_dump()))  # as pickled
    assert back.faces[0].bbox == face.bbox and back.crops[1] is None
    assert np.array_equal(back.faces[0].embedding, face.embedding)
    with pytest.raises(CorruptImageError):
        answer_from_wire(answer_to_wire(CorruptImageError("truncated")))


def test_model_info_round_trips() -> None:
    info = model_info("dlib", "resnet", 128, source="package", license="x")
    assert FaceModelInfo.model_validate(info.model_dump()) == info
