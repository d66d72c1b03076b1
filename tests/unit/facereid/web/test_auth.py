"""Optional API keys: missing, wrong and right keys, hashed key files, constant-time compare."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from facereid.web.auth import (
    AuthConfigError,
    load_key_digests,
    load_keys,
    own_tenant,
    resolve_keys,
)
from facereid.web.tenancy import DEFAULT_TENANT
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

    monkeypatch.setattr("facereid.web.auth.hmac.compare_digest", spy)
    client = TestClient(protected_app(api_keys="first,second,third"))
    assert client.post("/compare", headers={"x-api-key": "first"}).status_code == 200
    # all three digests compared even though the first matched; only digests, never raw keys
    assert len(calls) == 3
    assert all(len(a) == 32 and len(b) == 32 for a, b in calls)
    assert calls[0][0] == hashlib.sha256(b"first").digest()


# -- tenants and fail-closed key sources (issue 12) ----------------------------------------


def _whoami(client: TestClient, key: str) -> str:
    response = client.post("/whoami", headers={"x-api-key": key})
    assert response.status_code == 200, response.text
    return str(response.json()["tenant"])


def test_each_plain_key_is_its_own_tenant_and_auth_off_is_the_shared_one() -> None:
    client = TestClient(protected_app(api_keys="ka,kb"))
    tenant_a, tenant_b = _whoami(client, "ka"), _whoami(client, "kb")
    assert tenant_a != tenant_b
    assert tenant_a == own_tenant(hashlib.sha256(b"ka").digest())
    assert "ka" not in tenant_a  # derived from the digest, never the key
    assert TestClient(protected_app()).post("/whoami").json() == {"tenant": DEFAULT_TENANT}


def test_key_file_names_tenants_so_keys_can_share_one(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first, second, alone = (hashlib.sha256(k).hexdigest() for k in (b"k1", b"k2", b"k3"))
    keys.write_text(f"{first} acme  # ops laptop\n{second} acme\n{alone}\n")
    client = TestClient(protected_app(api_keys_file=str(keys)))
    assert _whoami(client, "k1") == _whoami(client, "k2") == "acme"
    assert _whoami(client, "k3") == own_tenant(bytes.fromhex(alone))


@pytest.mark.parametrize("tenant", ["a/b", "-lead", "x" * 64, "ümlaut", "a;b"])
def test_tenant_names_are_validated(tmp_path: Path, tenant: str) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{hashlib.sha256(b'k').hexdigest()} {tenant}\n")
    with pytest.raises(AuthConfigError, match="tenant"):
        load_keys(keys_file=str(keys))


def test_a_key_file_line_with_extra_fields_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{hashlib.sha256(b'k').hexdigest()} acme extra\n")
    with pytest.raises(AuthConfigError, match=r"keys:1"):
        load_keys(keys_file=str(keys))


@pytest.mark.parametrize(
    ("mode", "keys", "file_text", "expected"),
    [
        ("auto", " , ", None, "holds no key"),
        ("auto", "", "# only comments\n\n", "holds no key"),
        ("required", " , ", None, "holds no key"),
        ("required", "", None, "AUTH=required"),
        ("auto", "", "", "holds no key"),  # an empty Secret mount
    ],
)
def test_key_sources_without_keys_refuse_to_start(
    tmp_path: Path, mode: str, keys: str, file_text: str | None, expected: str
) -> None:
    """Before: each of these turned authentication off silently."""
    keys_file = None
    if file_text is not None:
        keys_file = tmp_path / "keys"
        keys_file.write_text(file_text)
    with pytest.raises(AuthConfigError, match=expected) as raised:
        protected_app(auth=mode, api_keys=keys, api_keys_file=keys_file and str(keys_file))
    assert isinstance(raised.value, SystemExit)  # the process ends with this one line
    assert "\n" not in str(raised.value.code)


def test_an_unreadable_key_file_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="FileNotFoundError"):
        resolve_keys("auto", "", str(tmp_path / "missing"))


def test_auth_off_is_explicit_and_auto_without_sources_stays_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="facereid.web.auth"):
        open_app = TestClient(protected_app(auth="off", api_keys="ka"))
    assert open_app.post("/compare").status_code == 200
    assert "AUTH=off" in caplog.text
    assert resolve_keys("auto", "", None) == []  # `make serve` on a fresh machine
    assert [k.tenant for k in resolve_keys("required", "ka", None)] == [
        own_tenant(hashlib.sha256(b"ka").digest())
    ]
