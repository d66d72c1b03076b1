"""Optional API keys: missing, wrong and right keys, hashed key files, constant-time compare."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from facereid.web import auth
from facereid.web.auth import AuthConfigError, load_key_digests
from tests.unit.facereid.protected_app import protected_app


def test_off_by_default() -> None:
    assert TestClient(protected_app()).post("/compare").status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "missing API key"), ({"x-api-key": "wrong"}, "invalid API key")],
)
def test_missing_or_wrong_key_is_401(headers: dict[str, str], message: str) -> None:
    client = TestClient(protected_app(api_keys="s3cret"))
    response = client.post("/compare", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": message}}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-content-type-options"] == "nosniff"  # contract headers too
    assert response.headers["x-request-id"]


def test_right_key_in_either_header_passes() -> None:
    client = TestClient(protected_app(api_keys="s3cret, other"))
    assert client.post("/compare", headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/compare", headers={"x-api-key": "other"}).status_code == 200
    assert client.post("/compare", headers={"authorization": "Basic s3cret"}).status_code == 401


def test_probes_are_open_unless_configured(tmp_path: Path) -> None:
    client = TestClient(protected_app(api_keys="s3cret"))
    assert client.get("/health").status_code == 200
    assert client.get("/livez").status_code == 200
    strict = TestClient(protected_app(api_keys="s3cret", auth_exempt_paths="/livez"))
    assert strict.get("/health").status_code == 401
    assert strict.get("/health", headers={"x-api-key": "s3cret"}).status_code == 200
    assert strict.get("/livez").status_code == 200


def test_key_file_holds_sha256_digests(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    digest = hashlib.sha256(b"from-file").hexdigest()
    keys.write_text(f"# comment\n{digest.upper()}\n\n")
    client = TestClient(protected_app(api_keys_file=str(keys)))
    assert client.post("/compare", headers={"x-api-key": "from-file"}).status_code == 200
    # the digest itself is not a key
    assert client.post("/compare", headers={"x-api-key": digest}).status_code == 401


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("plain-text-key\n")
    with pytest.raises(AuthConfigError, match="sha256 hex digest"):
        load_key_digests(keys_file=str(keys))


def test_comparison_uses_compare_digest_against_every_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    client = TestClient(protected_app(api_keys="first,second,third"))
    assert client.post("/compare", headers={"x-api-key": "first"}).status_code == 200
    # all three digests compared even though the first matched; only digests, never raw keys
    assert len(calls) == 3
    assert all(len(a) == 32 and len(b) == 32 for a, b in calls)
    assert calls[0][0] == hashlib.sha256(b"first").digest()
