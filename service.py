"""FaceReID: the API service. Routes and wiring only: composition lives in
``facereid.analysis`` (images) and ``facereid.video`` (jobs), the models in ``runners``.

``bentoml serve service:FaceReID`` starts this service and its model services. With
``CLIP_SERVICE_URL`` set, emotions come from that separately deployed CLIP service instead.
Each route declares its documented 200 model (``output_spec``) and answers through
``json_route``, which maps every ``FaceReIDError`` to the contract's error body.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

import bentoml
from pydantic import Field, StrictBool, StrictFloat, StrictInt
from starlette.responses import JSONResponse

from facereid.analysis import analyze as analysis
from facereid.analysis import schemas
from facereid.analysis.analyze import Analyzer
from facereid.analysis.cache import AnalysisCache
from facereid.analysis.health import HealthEndpoint
from facereid.analysis.model_client import EmotionServiceClient, FaceServiceClient
from facereid.config import get_settings
from facereid.emotion.clip_health import ClipHealth
from facereid.errors import FaceReIDError, TooManyRowsError
from facereid.matching import operating_points as op_points
from facereid.matching import similarity as matching
from facereid.matching import wire as embedding_wire
from facereid.ops.logs import configure_logging
from facereid.video import jobs as video_jobs_mod  # issue 8
from facereid.video import redaction  # issue 22
from facereid.video import schemas as video_schemas
from facereid.video import store as video_store
from facereid.video.gallery_match import store_check, store_lookup
from facereid.video.pipeline import VideoJobRunner
from facereid.video.scheduler import JobWorker
from facereid.video.submit import submit_video
from facereid.web import protocol_errors
from facereid.web.chain import get_routes_app, protection_middlewares
from facereid.web.content import upload_fields
from facereid.web.contract import ContractMiddleware, JSONHandler
from facereid.web.nullable_answers import null_first_answers
from facereid.web.openapi import RouteModels, docs_endpoint
from facereid.web.routes import json_route
from facereid.web.strict_inputs import forbid_unknown_fields
from facereid.web.tenancy import tenant_of
from runners import session_fix
from runners.emotion import EmotionModel
from runners.face import FaceModel
from runners.gallery_api import GalleryRoutes, record_audit  # issue 13: the /gallery/* routes

settings = get_settings()
# a missing or malformed MATCH_OPERATING_POINTS_FILE stops the start, not a request later
op_points.load(settings.match_operating_points_file)
OPERATING_POINT = "a calibrated point such as 'fmr_1e-3' (issue 24, docs/api.md); needs *_model"
clip_health = ClipHealth()
health = HealthEndpoint(clip_health)
# Jobs live in our durable store (facereid.video.store: SQLite under DATA_DIR, or Redis), not
# in @bentoml.task: BentoML 1.4.40 tasks keep the whole upload, report no progress and cannot
# cancel. No job state lives in a process, so API_WORKERS may be more than one (issue 14).
video_jobs = video_jobs_mod.VideoJobs.from_settings(settings)


@bentoml.service(
    name="FaceReID",
    workers=settings.api_workers,
    # Concurrency and timeouts are ours (facereid.web.traffic: contract-shaped 503/504); this
    # timeout is only BentoML's backstop. Its HTTP metrics label by raw path: ours replace them.
    traffic={"timeout": settings.request_timeout_s + 10},
    metrics={"enabled": False},
    http={"port": 3000},
)
class FaceReID(GalleryRoutes):
    face = bentoml.depends(FaceModel)
    emotion = bentoml.depends(EmotionModel, url=settings.clip_service_url)

    def __init__(self) -> None:
        # Calls in flight to the model and gallery services survive BentoML's session refresh.
        # Here, not at import: it loads BentoML's client (aiohttp, ~0.2 CPU-s), which only this
        # process uses, and every service process imports service.py at start.
        session_fix.install()
        self.faces = FaceServiceClient(settings, self.face, bentoml.exceptions.ServiceUnavailable)
        self.emotions = EmotionServiceClient(settings, self.emotion, clip_health)
        self.cache = AnalysisCache.from_settings(settings)
        self.analyzer = Analyzer(settings, self.faces, self.emotions, self.cache)
        video_runner = VideoJobRunner(
            settings, self.faces, self.emotions, store_lookup(self.gallery_client)
        )
        self.video_worker = JobWorker(
            video_jobs.store, video_jobs.uploads, settings, video_runner.run
        )
        self.erased_hook = self._redact_video_results
        self.naming_jobs_hook = self._jobs_naming
        self.tenant_erased_hook = self._erase_tenant_data
        self._poller: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None
        health.faces = self.faces
        configure_logging(settings.log_format, settings.log_level)  # after BentoML's own

    async def _redact_video_results(
        self, tenant: str, gallery: str, face_ids: list[str] | None
    ) -> int:
        """Erased gallery faces are no longer named by stored video results (issue 22)."""
        return await asyncio.to_thread(
            redaction.redact_jobs, video_jobs.store, tenant, gallery, face_ids and set(face_ids)
        )

    async def _erase_tenant_data(self, tenant: str) -> dict[str, int]:
        """A tenant erase (issue 22): its video jobs with results and uploads, its cache."""
        jobs = await asyncio.to_thread(
            redaction.delete_tenant_jobs, video_jobs.store, video_jobs.uploads, tenant
        )
        cached = await self.cache.erase_tenant(tenant) if self.cache is not None else 0
        return {"video_jobs": jobs, "cached_analyses": cached}

    async def _jobs_naming(self, tenant: str, gallery: str, face_ids: list[str]) -> list[str]:
        return await asyncio.to_thread(
            redaction.jobs_naming, video_jobs.store, tenant, gallery, set(face_ids)
        )

    @bentoml.on_startup
    async def _start_clip_poller(self) -> None:
        self._poller = asyncio.create_task(self.emotions.poll_clip())

    @bentoml.on_startup
    async def _start_cache_sweeper(self) -> None:
        if self.cache is not None:
            self._sweeper = asyncio.create_task(self.cache.sweep_forever())

    @bentoml.on_startup
    async def _start_retention_sweeper(self) -> None:
        self._retention = asyncio.create_task(self.sweep_retention_forever())

    @bentoml.on_startup
    async def _start_video_worker(self) -> None:
        self.video_worker.start()  # queued jobs (also those from before a restart) run

    @bentoml.on_shutdown
    async def _stop_video_worker(self) -> None:
        await self.video_worker.stop()  # running jobs go back to the queue

    async def __is_ready__(self) -> bool:
        """Ready once the face model answers; CLIP only degrades health, but a readiness
        probe refreshes its state so the first requests do not skip emotions needlessly."""
        try:
            await self.faces.model_info()
        except Exception:
            return False
        if not clip_health.available:
            await self.emotions.check_clip()
        return True

    # -- images ---------------------------------------------------------------------------

    @bentoml.api(route="/analyze", output_spec=schemas.AnalyzeResponse)
    @json_route
    async def analyze(
        self,
        image_data: Annotated[str, Field(description="base64 image; a data: URL prefix is fine")],
        ctx: bentoml.Context,
        return_all_faces: StrictBool = False,
        include_emotions: StrictBool = True,
        emotion_labels: list[str] | None = None,
        embedding_encoding: Literal["float", "base64"] = "float",
        include_attributes: StrictBool = False,
    ) -> dict[str, Any]:
        """``embedding_encoding="base64"`` answers ``embedding_b64`` (little-endian float32)
        instead of the ``embedding`` floats: a third of the bytes, no float parsing.
        ``include_attributes`` adds each face's age, gender and pose."""
        options = analysis.AnalyzeOptions(
            return_all_faces, include_emotions, emotion_labels, include_attributes
        )
        tenant = tenant_of(ctx.request.scope)
        result = await self.analyzer.analyze(image_data, options, tenant)
        if embedding_encoding == "base64":
            return embedding_wire.use_base64_embeddings(result)
        return result

    @bentoml.api(route="/analyze_batch", output_spec=schemas.AnalyzeBatchResponse)
    @json_route
    async def analyze_batch(
        self,
        images: Annotated[list[str], Field(description="base64 images, at most 32")],
        ctx: bentoml.Context,
        return_all_faces: StrictBool = False,
        include_emotions: StrictBool = True,
        emotion_labels: list[str] | None = None,
        include_attributes: StrictBool = False,
    ) -> dict[str, Any]:
        """One entry per image; an image's own error is its entry, the batch answers 200."""
        options = analysis.AnalyzeOptions(
            return_all_faces, include_emotions, emotion_labels, include_attributes
        )
        tenant = tenant_of(ctx.request.scope)
        return await self.analyzer.analyze_batch(images, options, tenant)

    # -- embeddings -----------------------------------------------------------------------

    @bentoml.api(route="/compare", output_spec=schemas.CompareResponse)
    @json_route
    def compare(
        self,
        face1_embedding: list[StrictFloat],
        face2_embedding: list[StrictFloat],
        face1_model: str | None = None,
        face2_model: str | None = None,
        operating_point: Annotated[str | None, Field(description=OPERATING_POINT)] = None,
    ) -> dict[str, Any]:
        """``face*_model`` (the ``embedding_model`` that /analyze returned) guard against
        comparing vectors from different models, which would give meaningless scores."""
        matching.check_same_model(face1_model, face2_model)
        dim = settings.max_embedding_dim
        a = matching.validate_embedding(face1_embedding, name="face1_embedding", max_dim=dim)
        b = matching.validate_embedding(face2_embedding, name="face2_embedding", max_dim=dim)
        answer: dict[str, Any] = {"similarity": matching.cosine_similarity(a, b, max_dim=dim)}
        if operating_point is not None:
            verdict = self._operating_point(operating_point, face1_model or face2_model)
            answer["operating_point"] = verdict.operating_point
            answer["threshold"] = verdict.threshold
            answer["match"] = answer["similarity"] >= verdict.threshold
        return answer

    @staticmethod
    def _operating_point(name: str, model: str | None) -> op_points.Verdict:
        return op_points.load(settings.match_operating_points_file).resolve(name, model)

    @bentoml.api(route="/find_matches", output_spec=schemas.MatchesResponse)
    @json_route
    def find_matches(
        self,
        target_embedding: list[StrictFloat] | None = None,
        embeddings: list[list[StrictFloat]] | None = None,
        threshold: StrictFloat = 0.5,
        top_k: StrictInt | None = None,
        target_model: str | None = None,
        embeddings_model: str | None = None,
        target_embedding_b64: str | None = None,
        embeddings_b64: Annotated[
            list[str] | str | None,
            Field(description="base64 float32 rows, or one N x dim blob (give dim)"),
        ] = None,
        dim: StrictInt | None = None,
        operating_point: Annotated[str | None, Field(description=OPERATING_POINT)] = None,
    ) -> list[dict[str, Any]]:
        """Floats or base64 little-endian float32 (``*_b64``, see facereid.matching.wire).
        An ``operating_point`` replaces ``threshold`` with its calibrated one."""
        matching.check_same_model(target_model, embeddings_model)
        if operating_point is not None:
            model = target_model or embeddings_model
            threshold = self._operating_point(operating_point, model).threshold
        limit, max_dim = settings.max_gallery_rows, settings.max_embedding_dim
        rows, count = embedding_wire.resolve_rows(
            embeddings,
            embeddings_b64,
            dim,
            max_rows=limit,
            max_dim=max_dim,
            max_values=settings.max_match_values,
        )
        if count > limit:
            raise TooManyRowsError(f"{count} rows; the limit is {limit}")
        target = matching.validate_embedding(
            embedding_wire.resolve_target(target_embedding, target_embedding_b64, max_dim=max_dim),
            name="target_embedding",
            max_dim=max_dim,
        )
        matches = matching.find_matches(
            target, rows, threshold=threshold, top_k=top_k, max_dim=max_dim
        )
        return [{"index": i, "similarity": s} for i, s in matches]

    # -- video re-identification (issue 8, docs/video.md) ---------------------------------

    @bentoml.api(route="/video/submit", output_spec=video_schemas.VideoJobStatus)
    @json_route
    async def video_submit(
        self,
        video: Annotated[Path, Field(description="MP4/MOV, Matroska/WebM or AVI file upload")],
        ctx: bentoml.Context,
        sample_fps: float | None = None,
        include_emotions: bool = True,
        gallery: Annotated[
            str | None, Field(description="name the identities from this gallery (issue 13)")
        ] = None,
        include_attributes: Annotated[
            bool, Field(description="age, gender and pose of each identity's best face")
        ] = False,
    ) -> JSONResponse:
        """Checks the video's header and limits, answers 202 with a job id at once. The job
        belongs to the caller's tenant (docs/video.md); a ``gallery`` must exist for it."""
        tenant = tenant_of(ctx.request.scope)
        try:
            job = await submit_video(
                video_jobs,
                self.video_worker,
                settings,
                tenant,
                video,
                sample_fps,
                include_emotions,
                gallery,
                store_check(self.gallery_client),
                include_attributes,
            )
        except FaceReIDError as refusal:
            if gallery is not None:  # issue 22: a job that would have used a gallery
                await asyncio.to_thread(
                    record_audit, ctx, tenant, "video_submit", gallery, refused=refusal.code
                )
            raise
        if gallery is not None:
            await asyncio.to_thread(
                record_audit, ctx, tenant, "video_submit", gallery, job_id=job.job_id
            )
        return JSONResponse(status_code=202, content=video_jobs_mod.status_payload(job))

    @bentoml.api(route="/video/status", output_spec=video_schemas.VideoJobStatus)
    @json_route
    async def video_status(self, job_id: str, ctx: bentoml.Context) -> dict[str, Any]:
        tenant = tenant_of(ctx.request.scope)
        job = await asyncio.to_thread(video_jobs.get, job_id, tenant)
        return video_jobs_mod.status_payload(job)

    @bentoml.api(route="/video/result", output_spec=video_schemas.VideoResult)
    @json_route
    async def video_result(
        self, job_id: str, ctx: bentoml.Context
    ) -> dict[str, Any] | JSONResponse:
        """The identities of a completed job; a failed or cancelled job answers its error."""
        tenant = tenant_of(ctx.request.scope)
        job, result = await asyncio.to_thread(video_jobs.result, job_id, tenant)
        if job.status != video_store.COMPLETED or result is None:
            error = dict(job.error or {"code": "internal_error", "message": "no result"})
            error["job_id"] = job.job_id
            return JSONResponse(status_code=job.error_status, content={"error": error})
        if job.gallery is not None:  # issue 22: who read which gallery's names, and how many
            named = sum(i.get("subject") is not None for i in result.get("identities") or [])
            counts = {"identities": len(result.get("identities") or []), "named": named}
            await asyncio.to_thread(
                record_audit, ctx, tenant, "video_result", job.gallery, None, counts, job_id=job_id
            )
        return {"job_id": job.job_id, "status": job.status, **result}

    @bentoml.api(route="/video/cancel", output_spec=video_schemas.VideoJobStatus)
    @json_route
    async def video_cancel(self, job_id: str, ctx: bentoml.Context) -> dict[str, Any]:
        tenant = tenant_of(ctx.request.scope)
        job = await asyncio.to_thread(video_jobs.cancel, job_id, tenant)
        return video_jobs_mod.status_payload(job)


# @bentoml.service turned the class into a bentoml Service, which mypy cannot see.
def route_models(apis: dict[str, Any]) -> dict[str, RouteModels]:
    """Each route's input and output models as BentoML validates them (for /docs.json)."""
    return {
        api.route: RouteModels(api.input_spec, api.output_spec, api.input_spec.mime_type())
        for api in apis.values()
    }


# Registration order is nesting order (first = outermost): ContractMiddleware wraps the
# protection chain, so 401/413/429/503/504 get the error contract. The GET routes (/health,
# /docs.json, /metrics) are a mounted app, inside every middleware like the APIs.
_get_routes: dict[str, JSONHandler] = {
    "/health": health,
    "/docs.json": docs_endpoint(
        lambda: FaceReID.openapi_spec.asdict(),  # type: ignore[attr-defined]
        lambda: route_models(FaceReID.apis),  # type: ignore[attr-defined]
    ),
}
# a misspelt field is a 422 naming it, on every route (the gallery mixin's included)
forbid_unknown_fields(FaceReID.apis)  # type: ignore[attr-defined]
# BentoML's own client decodes an answer's null lists (facereid.web.nullable_answers)
null_first_answers(FaceReID.apis)  # type: ignore[attr-defined]
FaceReID.mount_asgi_app(get_routes_app(_get_routes), path="/", name="get-routes")  # type: ignore[attr-defined]
FaceReID.add_asgi_middleware(ContractMiddleware)  # type: ignore[attr-defined]
_files = upload_fields(FaceReID.apis)  # type: ignore[attr-defined]
_chain = protection_middlewares(settings, file_fields=_files)
for _middleware, _options in _chain:
    FaceReID.add_asgi_middleware(_middleware, **_options)  # type: ignore[attr-defined]
# requests uvicorn's parser refuses (a NUL in a header) get the error shape too
protocol_errors.install()

__all__ = ["FaceReID", "FaceModel", "EmotionModel"]
