"""Answers with a ``null`` list decode in BentoML's own client.

BentoML 1.4.40 describes each route to its clients (``/schema.json``) with a flattened
schema that keeps only the first branch of an ``anyOf`` (``_bentoml_sdk/method.py``,
``_flatten_field``), and its client walks an answer by that schema
(``_bentoml_impl/serde.py``, ``_decode``): a field typed ``list[float] | None`` is flattened
to an array, and an answer's ``null`` there raised ``TypeError: 'NoneType' object is not
iterable`` in ``SyncHTTPClient`` and ``AsyncHTTPClient`` alike (``/gallery/export`` without
embeddings, an enrolment or search by embedding: ``bbox: null``).

``null_first_answers`` replaces each route's ``output_spec`` with a subclass whose JSON Schema
lists ``null`` first in every ``anyOf``: the same set of values (``/docs.json`` says the same
thing), and BentoML's flattening now keeps ``null``, which its client passes through as is.
The answers themselves are untouched (routes answer through ``facereid.web.routes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

NULL = {"type": "null"}


def null_first(node: Any) -> Any:
    """``node`` (a JSON Schema) with ``null`` moved to the front of each ``anyOf``."""
    if isinstance(node, list):
        return [null_first(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: null_first(value) for key, value in node.items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and NULL in branches[1:]:
        out["anyOf"] = [NULL, *(b for b in branches if b != NULL)]
    return out


def null_first_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` whose ``model_json_schema`` lists ``null`` first; same name and module (the
    names BentoML's components and ``/docs.json`` use)."""
    if getattr(model, "__null_first__", False):
        return model
    original = model.model_json_schema

    def model_json_schema(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(null_first(original(*args, **kwargs)))

    namespace: dict[str, Any] = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__null_first__": True,
        "model_json_schema": staticmethod(model_json_schema),
    }
    return type(model.__name__, (model,), namespace)


def null_first_answers(apis: Mapping[str, Any]) -> None:
    """Each API's ``output_spec`` describes its nullable fields null first."""
    for api in apis.values():
        api.output_spec = null_first_model(api.output_spec)
