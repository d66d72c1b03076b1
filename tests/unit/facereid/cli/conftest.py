"""The scripted API every CLI test talks to (``fake_api.FakeApi``)."""

from __future__ import annotations

import pytest

from tests.unit.facereid.cli.fake_api import FakeApi


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    fake.install(monkeypatch)
    return fake
