"""The media type of each internal answer, worked out once instead of per response.

BentoML 1.4 asks an API's output descriptor for its media type on every response
(``IOMixin.to_http_response`` → ``mime_type()``). For a list answer (an ``IORootModel``, as
every batchable API has) that builds the answer type's whole JSON schema each time, unless the
descriptor's ``media_type`` is set. For the face service's typed records (``FacesWire``: faces,
points, crops) that was about 4 % of the face service's busy time at concurrency 32 on its
event loop, which serves one batch per worker at a time: 87.7 → 84.6 images/s against the dict
wire (issue 26, ``docs/benchmarks.md``). The answer is the same each time, so each model
service's output descriptors get it set once, at import, to the value BentoML computes; what
BentoML sends (and the public ``/docs.json``, which only ``FaceReID`` appears in) is unchanged.
``tests/unit/runners/test_media_types.py`` fails if an upgrade changes what this relies on.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import bentoml

S = TypeVar("S")  # a class decorated with @bentoml.service: a bentoml.Service at run time


def answer_media_types(service: S) -> S:
    """Sets each API's answer media type on its output descriptor, as BentoML computes it."""
    for method in cast("bentoml.Service[Any]", service).apis.values():
        spec = method.output_spec
        if spec.media_type is None:
            spec.media_type = spec.mime_type()
    return service
