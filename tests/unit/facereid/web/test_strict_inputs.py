"""Every route's input model forbids unknown fields, whichever way BentoML built it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import pytest
from pydantic import BaseModel, ValidationError

from facereid.web.strict_inputs import forbid_unknown_fields, strict_model


class Body(BaseModel):
    gallery: str
    subject: str | None = None


@bentoml.service
class Routes:
    @bentoml.api
    def keywords(
        self, image_data: str, ctx: bentoml.Context, return_all_faces: bool = False
    ) -> dict[str, Any]:
        return {}

    @bentoml.api
    def root(self, request: Body, /, ctx: bentoml.Context) -> dict[str, Any]:
        return {}

    @bentoml.api
    def upload(self, video: Path, sample_fps: float | None = None) -> dict[str, Any]:
        return {}


forbid_unknown_fields(Routes.apis)  # type: ignore[attr-defined]
APIS: dict[str, Any] = Routes.apis  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("route", "body", "typo"),
    [
        ("keywords", {"image_data": "x", "return_all_face": True}, "return_all_face"),
        ("root", {"gallery": "g", "subjet": "obama"}, "subjet"),
        ("upload", {"video": Path(__file__), "sample_fpz": 2}, "sample_fpz"),
    ],
)
def test_a_misspelt_field_is_refused_by_name(route: str, body: dict[str, Any], typo: str) -> None:
    with pytest.raises(ValidationError) as refused:
        APIS[route].input_spec.model_validate(body)
    assert [(e["type"], e["loc"]) for e in refused.value.errors()] == [("extra_forbidden", (typo,))]


def test_the_known_fields_still_validate() -> None:
    assert APIS["root"].input_spec.model_validate({"gallery": "g"}).gallery == "g"
    assert APIS["keywords"].input_spec.model_validate({"image_data": "x"}).image_data == "x"


def test_bentoml_still_sees_the_same_route_shapes() -> None:
    """The names (OpenAPI components), root input, media type and upload field survive."""
    root, keywords, upload = APIS["root"], APIS["keywords"], APIS["upload"]
    assert root.input_spec.__name__ == "BodyIODescriptor"
    assert root.schema()["input"]["root_input"] is True
    assert keywords.input_spec.__name__ == "Input"
    assert upload.input_spec.mime_type() == "multipart/form-data"
    assert upload.input_spec.multipart_fields == ["video"]
    assert keywords.input_spec.model_json_schema()["additionalProperties"] is False


def test_strict_model_is_idempotent() -> None:
    strict = strict_model(Body)
    assert strict_model(strict) is strict
    assert strict.model_config["extra"] == "forbid" and Body.model_config.get("extra") is None
