"""One place per route for its facts (issue 26): the route and its models are the service's
``@bentoml.api`` (``/docs.json`` is derived from them); the body cap and the docs are checked
against that list here, so a new route cannot ship with the default cap or undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from facereid.config import Settings
from facereid.web.body_limit import LARGE_BODY_ROUTES, route_body_limits

REPO = Path(__file__).resolve().parents[2]
DOCS = ("docs/api.md", "docs/gallery.md", "docs/video.md")


@pytest.fixture(scope="module")
def routes() -> dict[str, object]:
    import service

    apis = service.FaceReID.apis  # type: ignore[attr-defined]
    return {api.route: api for api in apis.values()}


def test_every_route_has_a_body_cap_decided(routes: dict[str, object]) -> None:
    capped = set(route_body_limits(Settings(route_max_bytes={})))
    assert capped.isdisjoint(LARGE_BODY_ROUTES)
    assert set(routes) == capped | set(LARGE_BODY_ROUTES)


def test_every_route_declares_its_answer(routes: dict[str, object]) -> None:
    """Its 200 model is one of ours (BentoML's default would be ``dictIODescriptor``)."""

    def ours(api: object) -> bool:
        spec: type = api.output_spec  # type: ignore[attr-defined]
        return any(cls.__module__.startswith("facereid.") for cls in spec.__mro__)

    assert [route for route, api in routes.items() if not ours(api)] == []


def test_every_route_is_documented_and_the_docs_name_no_other(routes: dict[str, object]) -> None:
    text = "\n".join((REPO / doc).read_text() for doc in DOCS)
    missing = [route for route in routes if f"{route}`" not in text and f"{route} " not in text]
    assert missing == []
    named = set(re.findall(r"`(?:POST |GET )?(/(?:gallery|video)/[a-z_]+)`", text))
    assert named <= set(routes), named - set(routes)
