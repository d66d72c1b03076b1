"""Every route refuses a request field it does not know (a typo), as Stripe's API does.

A misspelt optional field would otherwise be dropped without a word: ``{"subjet": "obama"}``
on ``/gallery/enroll`` filed an unnamed face, ``return_all_face`` on ``/analyze`` answered
one face. BentoML 1.4.40 builds a route's input model either from its keyword parameters
(``create_model("Input", __base__=IODescriptor, ...)``, with no way to pass a config) or
from its one positional model (the gallery routes' root input); pydantic's default for both
is to ignore extra keys. ``forbid_unknown_fields`` replaces each route's ``input_spec`` with
a subclass that forbids them, once, where the service is composed, so a new route is covered
without anyone remembering to. The JSON bodies and the multipart video form are validated
by the same model, so both refuse; ``facereid.web.contract`` answers the refusal as 422
``invalid_request`` naming the field.

Answers (``output_spec``) are left alone: old stored records may carry fields a newer model
no longer has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


def strict_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with unknown fields forbidden: a subclass of the same name and module (the
    names BentoML's OpenAPI components use), keeping BentoML's class attributes (root input,
    media type; its multipart fields are recomputed by the subclass hook)."""
    if model.model_config.get("extra") == "forbid":
        return model
    namespace: dict[str, Any] = {
        "model_config": ConfigDict(extra="forbid"),
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
    }
    return type(model.__name__, (model,), namespace)


def forbid_unknown_fields(apis: Mapping[str, Any]) -> None:
    """Each API's input model forbids unknown fields (BentoML's ``Service.apis``; each has a
    pydantic ``input_spec``). Call before the service serves: the app reads the specs then."""
    for api in apis.values():
        api.input_spec = strict_model(api.input_spec)
