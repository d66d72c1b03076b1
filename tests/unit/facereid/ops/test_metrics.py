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


def _label_sets(name: str) -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name
    }


def test_http_metrics_label_by_route_template_and_stay_bounded() -> None:
    """Before: BentoML labelled by raw path; 300 random paths grew /metrics by 1.26 MB."""
    import uuid

    client = TestClient(protected_app(api_keys="k", failed_auth_limit=""))
    client.post("/items/1", headers={"x-api-key": "k"})
    client.post("/nowhere-0")
    before = len(_label_sets("facereid_http_requests_total"))
    size_before = len(metrics.exposition()[0])
    for i in range(200):
        client.post(f"/{uuid.uuid4().hex}", headers={"x-api-key": "k"} if i % 2 else {})
        client.post(f"/items/{uuid.uuid4().hex}", headers={"x-api-key": "k"})
    labels = _label_sets("facereid_http_requests_total")
    assert len(labels) == before  # nothing new: same routes, methods and statuses
    assert len(metrics.exposition()[0]) - size_before < 200  # counts grew, not the text
    routes = {dict(label)["route"] for label in labels}
    assert "/items/{item_id}" in routes and "unmatched" in routes
    assert not any(len(route) == 32 for route in routes)


def test_observe_request_clamps_client_chosen_labels() -> None:
    metrics.observe_request("unmatched", "BREW", 999, 0.01)
    labels = {"route": "unmatched", "method": "other", "status": "other"}
    assert _value("facereid_http_requests_total", labels) >= 1


def test_metrics_route_can_require_a_key() -> None:
    open_metrics = TestClient(protected_app(api_keys="k"))
    response = open_metrics.get("/metrics")
    assert response.status_code == 200
    assert "facereid_http_requests_total" in response.text
    assert response.headers["content-type"].startswith("text/plain")
    locked = TestClient(protected_app(api_keys="k", metrics_require_key=True))
    assert locked.get("/metrics").status_code == 401
    assert locked.get("/metrics", headers={"x-api-key": "k"}).status_code == 200
    assert locked.post("/metrics", headers={"x-api-key": "k"}).status_code == 405
