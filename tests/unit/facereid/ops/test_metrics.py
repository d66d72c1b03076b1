"""Custom metrics: names, labels, and the rejection counter fed by ContractMiddleware."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest
from starlette.testclient import TestClient

from facereid.ops import metrics
from tests.unit.facereid.protected_app import protected_app


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_metrics_are_recorded_under_their_names() -> None:
    before = _value("facereid_faces_per_image_count")
    metrics.observe_faces(3)
    with metrics.stage_timer("decode"):
        pass
    metrics.observe_batch_size(4)
    metrics.set_model_info("insightface", "buffalo_l", synthetic=True)
    metrics.set_clip_available(False)
    assert _value("facereid_faces_per_image_count") == before + 1
    assert _value("facereid_stage_duration_seconds_count", {"stage": "decode"}) >= 1
    assert _value("facereid_face_model_batch_size_bucket", {"le": "4.0"}) >= 1
    info = {"engine": "insightface", "pack": "buffalo_l", "synthetic": "true"}
    assert _value("facereid_model_info", info) == 1
    assert _value("facereid_clip_available") == 0
    metrics.set_clip_available(True)
    assert _value("facereid_clip_available") == 1
    text = generate_latest(REGISTRY).decode()
    for name in ("facereid_faces_per_image", "facereid_stage_duration_seconds"):
        assert f"# TYPE {name} histogram" in text


def test_rejections_are_counted_by_error_code() -> None:
    labels = {"code": "rate_limited"}
    before = _value("facereid_rejections_total", labels)
    client = TestClient(protected_app(rate_limit="1/minute"))
    client.post("/compare")
    client.post("/compare")
    client.post("/compare")
    assert _value("facereid_rejections_total", labels) == before + 2
    missing = _value("facereid_rejections_total", {"code": "not_found"})
    TestClient(protected_app()).get("/nowhere")
    assert _value("facereid_rejections_total", {"code": "not_found"}) == missing + 1
