"""A client generated from the served ``/docs.json`` by ``openapi-python-client`` (a tool this
team did not write) calls every route of a real server, and its typed models parse the real
answers, the null cases included (issue 23).

The generator lives in its own environment (``.venv-tools``, made by ``scripts/install.sh``):
it pins an older httpx and typer than BentoML. The generated package needs only httpx, attrs
and python-dateutil, which the project's environment has. A route the document lists and this
test does not call fails the test, so a new route cannot go unchecked.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.harness import REPO_ROOT, Server
from tests.integration.payloads import b64_file
from tests.video_builder import t1_scenario, write_video

pytestmark = pytest.mark.slow

GENERATOR = REPO_ROOT / ".venv-tools" / "bin" / "openapi-python-client"
PACKAGE = "face_re_id_client"


@pytest.fixture(scope="module")
def generated(
    dlib_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    if not GENERATOR.exists():
        pytest.skip(f"{GENERATOR} missing: scripts/install.sh makes it")
    folder = tmp_path_factory.mktemp("generated")
    with dlib_server.client() as client:
        (folder / "docs.json").write_bytes(client.get("/docs.json").content)
    (folder / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: no ruff needed
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", "docs.json", "--meta", "none"]
        + ["--config", "config.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]


class Caller:
    """``route`` -> its generated module's ``sync_detailed``, recording what was called."""

    def __init__(self, package: ModuleType, url: str) -> None:
        self.package = package
        self.client = package.Client(base_url=url, timeout=120.0)
        self.called: set[str] = set()

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{PACKAGE}.models"), name)

    def __call__(self, route: str, body: Any, status: int = 200) -> Any:
        name = route.strip("/").replace("/", "_")
        module = importlib.import_module(f"{PACKAGE}.api.service_ap_is.face_re_id_{name}")
        response = module.sync_detailed(client=self.client, body=body)
        assert int(response.status_code) == status, (route, response.content[:500])
        self.called.add(route)
        return response.parsed

    def json(self, route: str, request_model: str, fields: dict[str, Any]) -> Any:
        return self(route, self.model(request_model).from_dict(fields))


def test_a_generated_client_calls_every_route(
    generated: ModuleType, dlib_server: Server, t1_path: Path, tmp_path: Path
) -> None:
    call = Caller(generated, dlib_server.url)
    models = importlib.import_module(f"{PACKAGE}.models")
    health = importlib.import_module(f"{PACKAGE}.api.infrastructure.health")
    state = health.sync_detailed(client=call.client).parsed
    assert isinstance(state, models.HealthResponse) and state.emotion_model is not None

    image = b64_file(t1_path)
    face = call.json("/analyze", "AnalyzeRequest", {"image_data": image, "include_emotions": False})
    assert isinstance(face, models.AnalyzeResponse) and face.num_faces == 6
    assert face.emotions is None and face.emotion_model is None  # the typed model takes nulls
    batch = call.json("/analyze_batch", "AnalyzeBatchRequest", {"images": [image, "bad"]})
    assert batch.count == 2 and isinstance(batch.results[1], models.ErrorResponse)
    vector = list(face.embedding)
    same = call.json(
        "/compare", "CompareRequest", {"face1_embedding": vector, "face2_embedding": vector}
    )
    assert same.similarity == pytest.approx(1.0, abs=1e-5)
    rows = np.random.default_rng(0).normal(size=(3, len(vector))).tolist()
    found = call.json(
        "/find_matches",
        "FindMatchesRequest",
        {"target_embedding": vector, "embeddings": [vector, *rows], "top_k": 2},
    )
    assert found[0].index == 0

    gallery, model = "generated-client", face.embedding_model
    enrolled = call.json(
        "/gallery/enroll",
        "GalleryEnrollRequest",
        {"gallery": gallery, "image_data": image, "subject": "t1"},
    )
    assert enrolled.subject == "t1" and enrolled.num_faces == 6
    unnamed = call.json(
        "/gallery/enroll_batch",
        "GalleryEnrollBatchRequest",
        {"gallery": gallery, "embedding_model": model, "embeddings": [vector]},
    )
    assert len(unnamed.face_ids) == 1
    hits = call.json(
        "/gallery/search",
        "GallerySearchRequest",
        {"gallery": gallery, "embedding": vector, "embedding_model": model},
    )
    assert hits.matches[0].similarity > 0.99
    subjects = call.json("/gallery/subjects", "GallerySubjectsRequest", {"gallery": gallery})
    assert [s.subject for s in subjects.subjects] == ["t1"] and subjects.next_cursor is None
    faces = call.json("/gallery/faces", "GalleryFacesRequest", {"gallery": gallery})
    assert len(faces.faces) == 2 and faces.next_cursor is None
    assert any(f.subject is None for f in faces.faces)  # the unnamed one: null, typed
    clusters = call.json(
        "/gallery/cluster",
        "GalleryClusterRequest",
        {"gallery": gallery, "min_faces": 1, "threshold": 0.5},
    )
    assert clusters.unclustered + sum(c.size for c in clusters.clusters) == 1
    assigned = call.json(
        "/gallery/assign",
        "GalleryAssignRequest",
        {"gallery": gallery, "face_ids": unnamed.face_ids, "subject": "t1"},
    )
    assert assigned.assigned == 1
    renamed = call.json(
        "/gallery/rename",
        "GalleryRenameRequest",
        {"gallery": gallery, "subject": "t1", "new_subject": "six"},
    )
    assert renamed.renamed == 2
    deleted = call.json(
        "/gallery/delete",
        "GalleryDeleteRequest",
        {"gallery": gallery, "face_id": unnamed.face_ids[0]},
    )
    assert deleted.deleted == 1
    exported = call.json(
        "/gallery/export",
        "GalleryExportRequest",
        {"gallery": gallery, "subject": "six", "include_embeddings": True},
    )
    assert exported.faces and all(f.embedding for f in exported.faces)
    recent = {"since": time.time() - 120, "limit": 1000}  # the session server's older entries
    audit = call.json("/audit/query", "AuditQueryRequest", recent)
    assert any(e.route == "export" and e.gallery == gallery for e in audit.entries)
    kept = call.json(
        "/gallery/retention",
        "GalleryRetentionRequest",
        {"gallery": gallery, "retention_days": 0},  # 0: kept until deleted
    )
    assert kept.retention_days == 0 and kept.effective_days == 0
    listed = call.json("/gallery/list", "GalleryListRequest", {})
    assert [g.retention_days for g in listed.galleries if g.gallery == gallery] == [0]
    reset = call.json(
        "/gallery/retention",
        "GalleryRetentionRequest",
        {"gallery": gallery, "retention_days": None},
    )
    assert reset.retention_days is None and reset.effective_days > 0  # null typed: the default
    dropped = call.json("/gallery/drop", "GalleryDropRequest", {"gallery": gallery})
    assert dropped.dropped == gallery

    clip = write_video(
        tmp_path / "clip.mp4", t1_scenario(t1_path, t1_path.with_name("Tom_Hanks_54745.png"))
    )
    types = importlib.import_module(f"{PACKAGE}.types")
    with clip.open("rb") as handle:
        upload = types.File(payload=handle, file_name="clip.mp4", mime_type="video/mp4")
        job = call("/video/submit", models.VideoSubmitRequest(video=upload), status=202)
    assert isinstance(job, models.VideoJobStatus) and job.started_at in (None, job.started_at)
    deadline = time.monotonic() + 240
    status = job
    while str(status.status.value) not in ("completed", "failed"):
        assert time.monotonic() < deadline, "the video job did not finish"
        time.sleep(0.5)
        status = call.json("/video/status", "VideoStatusRequest", {"job_id": job.job_id})
    result = call.json("/video/result", "VideoResultRequest", {"job_id": job.job_id})
    assert result.num_identities >= 1 and result.status == "completed"
    cancelled = call.json("/video/cancel", "VideoCancelRequest", {"job_id": job.job_id})
    assert cancelled.job_id == job.job_id
    # last: it erases every gallery of this server's one tenant (this test's was dropped above)
    enroll_gallery = {"gallery": f"{gallery}-erase", "embedding_model": "test/erase/4"}
    call.json("/gallery/enroll", "GalleryEnrollRequest", {**enroll_gallery, "embedding": [1.0] * 4})
    erased = call.json("/tenant/erase", "TenantEraseRequest", {"confirm": True})
    assert erased.galleries >= 1 and erased.faces >= 1
    assert erased.video_jobs >= 0 and erased.cached_analyses >= 0

    with dlib_server.client() as client:
        document = client.get("/docs.json").json()
    routes = {
        path for path, item in document["paths"].items() if "x-bentoml-name" in item.get("post", {})
    }
    assert call.called == routes, f"routes this test does not call: {routes - call.called}"
