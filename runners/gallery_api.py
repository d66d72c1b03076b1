"""The /gallery/* routes, as a mixin the FaceReID API service inherits (docs/gallery.md).

BentoML 1.4.40 gathers a service's APIs with ``dir()`` over the class, so ``@bentoml.api``
methods and ``bentoml.depends`` attributes of a base class are served like the service's own.
Each route takes its whole JSON body as one typed request model (a positional-only
parameter: BentoML's root input; ``facereid.gallery.schemas``) and makes one typed call into
``facereid.gallery.composition``, answered by ``facereid.web.routes.json_route`` like every
other route. The service provides ``analyzer`` (``facereid.analysis.analyze.Analyzer``, the
/analyze path's intake and face service client).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import bentoml
from pydantic import BaseModel

from facereid.analysis.analyze import Analyzer
from facereid.config import get_settings
from facereid.errors import FaceReIDError
from facereid.gallery import schemas
from facereid.gallery.client import GalleryServiceClient
from facereid.gallery.composition import (
    ErasedHook,
    GalleryComposition,
    NamingJobs,
    TenantErasedHook,
)
from facereid.gallery.errors import InvalidGalleryRequestError
from facereid.ops.audit import Audit, open_audit, subject_digest
from facereid.web.routes import json_route
from facereid.web.tenancy import tenant_of
from runners.gallery import GalleryStoreService

logger = logging.getLogger(__name__)
settings = get_settings()
Request = TypeVar("Request", bound=BaseModel)
_AUDIT: list[Audit] = []


def audit_log() -> Audit:
    if not _AUDIT:
        s = settings
        _AUDIT.append(open_audit(s.data_dir, s.job_store_url, s.audit_retention_days))
    return _AUDIT[0]


def counts_of(result: Any) -> dict[str, int]:
    """The answer's counts: its integers, and the length of its lists."""
    answer = result.model_dump() if isinstance(result, BaseModel) else result
    return {
        k: (len(v) if isinstance(v, list) else v)
        for k, v in (answer if isinstance(answer, dict) else {}).items()
        if isinstance(v, list) or (isinstance(v, int) and not isinstance(v, bool))
    }


def record_audit(
    ctx: bentoml.Context | None,
    tenant: str,
    route: str,
    gallery: object = None,
    subject: object = None,
    counts: dict[str, int] | None = None,
    **extra: str | None,
) -> None:
    """One audit entry (issue 22, docs/privacy.md): identifiers and counts only, never names,
    embeddings, images or metadata values; ``extra``: ``refused`` (the error code of a refused
    operation), ``job_id`` (a video job that used a gallery). Without a request (``ctx``
    None: the retention sweep) there is no key id and no request id."""
    state = (ctx.request.scope.get("state") or {}) if ctx is not None else {}
    audit_log().record(
        tenant,
        key_id=state.get("api_key_id"),
        route=route,
        gallery=gallery if isinstance(gallery, str) else None,
        subject_digest=subject_digest(tenant, subject if isinstance(subject, str) else None),
        counts=counts or {},
        request_id=state.get("request_id"),
        **{k: v for k, v in extra.items() if v is not None},
    )


class GalleryRoutes:
    gallery_store = bentoml.depends(GalleryStoreService)
    _gallery_composition: GalleryComposition | None = None

    analyzer: Analyzer  # set by the service's __init__
    # redacts video results that named erased faces, and finds those that name a face
    # (service.py; facereid/video/redaction.py)
    erased_hook: ErasedHook | None = None
    naming_jobs_hook: NamingJobs | None = None
    tenant_erased_hook: TenantErasedHook | None = None  # its jobs and cached analyses

    @property
    def gallery_client(self) -> GalleryServiceClient:
        """The store service's typed client (video jobs search and check galleries too)."""
        return GalleryServiceClient(settings, self.gallery_store)

    @property
    def galleries(self) -> GalleryComposition:
        if self._gallery_composition is None:
            self._gallery_composition = GalleryComposition(
                settings,
                self.gallery_client,
                self.analyzer,
                self.erased_hook,
                self.naming_jobs_hook,
                self.tenant_erased_hook,
            )
        return self._gallery_composition

    async def _audited(
        self,
        route: str,
        ctx: bentoml.Context,
        request: Request,
        operation: Callable[[str, Request], Awaitable[Any]],
    ) -> Any:
        """The operation for the caller's tenant, then its audit entry: its counts, or the
        code it was refused with (an unknown or another tenant's gallery, a bad value...)."""
        tenant = tenant_of(ctx.request.scope)
        gallery, subject = getattr(request, "gallery", None), getattr(request, "subject", None)
        try:
            result = await operation(tenant, request)
        except FaceReIDError as refusal:
            await asyncio.to_thread(
                record_audit, ctx, tenant, route, gallery, subject, refused=refusal.code
            )
            raise
        counts = counts_of(result)
        await asyncio.to_thread(record_audit, ctx, tenant, route, gallery, subject, counts)
        return result

    async def sweep_retention_forever(self) -> None:
        """Retention (issue 22, docs/privacy.md): every ``GALLERY_RETENTION_SWEEP_S`` the store
        erases the faces past their gallery's retention; here their names leave the tenant's
        video results and each gallery's expiry is an audit entry. Each API worker sweeps; a
        second sweep finds nothing left. A failed sweep is logged and tried again."""
        every = settings.gallery_retention_sweep_s
        await asyncio.sleep(min(every, 5.0))  # the store service starts beside this one
        while True:
            try:
                await self._sweep_retention()
            except Exception as exc:
                logger.warning("retention sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(every)

    async def _sweep_retention(self) -> None:
        expired = await self.gallery_client.expire()
        for group in expired.galleries:
            if not group.face_ids:
                continue
            if self.erased_hook is not None:
                await self.erased_hook(group.tenant, group.gallery, group.face_ids)
            counts = {"deleted": len(group.face_ids)}
            await asyncio.to_thread(
                record_audit, None, group.tenant, "retention_expire", group.gallery, None, counts
            )
            logger.info("retention sweep erased %d faces", len(group.face_ids))

    # -- galleries: one typed request in, one typed call ------------------------------------

    @bentoml.api(route="/gallery/enroll", output_spec=schemas.EnrollResponse)
    @json_route
    async def gallery_enroll(self, request: schemas.EnrollRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("enroll", ctx, request, self.galleries.enroll)

    @bentoml.api(route="/gallery/enroll_batch", output_spec=schemas.EnrollBatchResponse)
    @json_route
    async def gallery_enroll_batch(
        self, request: schemas.EnrollBatchRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self._audited("enroll_batch", ctx, request, self.galleries.enroll_batch)

    @bentoml.api(route="/gallery/search", output_spec=schemas.SearchResponse)
    @json_route
    async def gallery_search(self, request: schemas.SearchRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("search", ctx, request, self.galleries.search)

    @bentoml.api(route="/gallery/subjects", output_spec=schemas.SubjectsResponse)
    @json_route
    async def gallery_subjects(
        self, request: schemas.SubjectsRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self._audited("subjects", ctx, request, self.galleries.subjects)

    @bentoml.api(route="/gallery/faces", output_spec=schemas.FacesResponse)
    @json_route
    async def gallery_faces(self, request: schemas.FacesRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("faces", ctx, request, self.galleries.faces)

    @bentoml.api(route="/gallery/delete", output_spec=schemas.DeleteResponse)
    @json_route
    async def gallery_delete(self, request: schemas.DeleteRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("delete", ctx, request, self.galleries.delete)

    @bentoml.api(route="/gallery/rename", output_spec=schemas.RenameResponse)
    @json_route
    async def gallery_rename(self, request: schemas.RenameRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("rename", ctx, request, self.galleries.rename)

    @bentoml.api(route="/gallery/assign", output_spec=schemas.AssignResponse)
    @json_route
    async def gallery_assign(self, request: schemas.AssignRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("assign", ctx, request, self.galleries.assign)

    @bentoml.api(route="/gallery/drop", output_spec=schemas.DropResponse)
    @json_route
    async def gallery_drop(self, request: schemas.DropRequest, /, ctx: bentoml.Context) -> Any:
        return await self._audited("drop", ctx, request, self.galleries.drop)

    @bentoml.api(route="/gallery/retention", output_spec=schemas.RetentionResponse)
    @json_route
    async def gallery_retention(
        self, request: schemas.RetentionRequest, /, ctx: bentoml.Context
    ) -> Any:
        """The gallery's own retention_days (null: GALLERY_RETENTION_DAYS again)."""
        return await self._audited("retention", ctx, request, self.galleries.retention)

    @bentoml.api(route="/gallery/list", output_spec=schemas.ListResponse)
    @json_route
    async def gallery_list(self, ctx: bentoml.Context) -> Any:
        tenant = tenant_of(ctx.request.scope)
        result = await self.galleries.list(tenant)
        await asyncio.to_thread(record_audit, ctx, tenant, "list", counts=counts_of(result))
        return result

    @bentoml.api(route="/gallery/cluster", output_spec=schemas.ClusterResponse)
    @json_route
    async def gallery_cluster(
        self, request: schemas.ClusterRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self._audited("cluster", ctx, request, self.galleries.cluster)

    # -- a data subject's rights (issue 22, docs/privacy.md) --------------------------------

    @bentoml.api(route="/gallery/export", output_spec=schemas.ExportResponse)
    @json_route
    async def gallery_export(self, request: schemas.ExportRequest, /, ctx: bentoml.Context) -> Any:
        """Everything held about a subject in a gallery."""
        return await self._audited("export", ctx, request, self.galleries.export)

    @bentoml.api(route="/tenant/erase", output_spec=schemas.TenantEraseResponse)
    @json_route
    async def tenant_erase(
        self, request: schemas.TenantEraseRequest, /, ctx: bentoml.Context
    ) -> Any:
        """The caller's own tenant (its API key decides which): every gallery erased down to
        the disk, its video jobs (results and uploads) and its repeated-image cache entries."""
        return await self._audited("erase_tenant", ctx, request, self.galleries.erase_tenant)

    @bentoml.api(route="/audit/query", output_spec=schemas.AuditResponse)
    @json_route
    async def audit_query(self, request: schemas.AuditQueryRequest, /, ctx: bentoml.Context) -> Any:
        """The caller's tenant's audit entries in [since, until) (Unix seconds), oldest first;
        ``cursor`` is the last ``seq`` seen."""
        if not 1 <= request.limit <= 1000 or request.cursor < 0 or request.since < 0:
            raise InvalidGalleryRequestError("limit is 1-1000; cursor and since are >= 0")
        end = time.time() + 1 if request.until is None else float(request.until)
        entries, after = await asyncio.to_thread(
            audit_log().query,
            tenant_of(ctx.request.scope),
            float(request.since),
            end,
            request.cursor,
            request.limit,
        )
        return {"entries": entries, "next_cursor": after}
