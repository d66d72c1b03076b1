"""BentoML's client schema keeps a nullable field's ``null``, so a ``null`` list decodes."""

from __future__ import annotations

import bentoml
import pytest
from _bentoml_impl.serde import JSONSerde
from _bentoml_sdk.method import _flatten_model_schema
from pydantic import BaseModel

from facereid.web.nullable_answers import null_first, null_first_model


class Face(BaseModel):
    embedding: list[float] | None = None
    bbox: list[float]


class Answer(BaseModel):
    faces: list[Face]
    boxes: list[list[float]] | None = None


def test_null_moves_first_and_nothing_else_changes() -> None:
    schema = {"anyOf": [{"type": "array"}, {"type": "null"}], "items": [{"anyOf": [1, 2]}]}
    assert null_first(schema) == {
        "anyOf": [{"type": "null"}, {"type": "array"}],
        "items": [{"anyOf": [1, 2]}],
    }


def test_bentoml_client_decodes_null_lists_of_the_wrapped_model() -> None:
    @bentoml.service
    class Routes:
        @bentoml.api(output_spec=Answer)
        def answer(self) -> dict[str, object]:
            return {}

    spec = Routes.apis["answer"].output_spec  # type: ignore[attr-defined]
    answer = {"faces": [{"embedding": None, "bbox": [1.0]}], "boxes": None}
    serde = JSONSerde()
    # the bug this works around (BentoML keeps only anyOf[0], the array); once a BentoML
    # upgrade decodes null lists, this fails and facereid.web.nullable_answers can go
    with pytest.raises(TypeError, match="not iterable"):
        serde._decode(answer, _flatten_model_schema(spec))
    wrapped = null_first_model(spec)
    assert serde._decode(answer, _flatten_model_schema(wrapped)) == answer
    assert wrapped.__name__ == spec.__name__ and null_first_model(wrapped) is wrapped
    assert wrapped.model_validate(answer).faces[0].bbox == [1.0]  # type: ignore[attr-defined]
