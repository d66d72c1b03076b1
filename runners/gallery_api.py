"""The /gallery/* routes, as a mixin the FaceReID API service inherits (docs/gallery.md).

BentoML 1.4.40 gathers a service's APIs with ``dir()`` over the class, so ``@bentoml.api``
methods and ``bentoml.depends`` attributes of a base class are served like the service's own.
Each route is a signature and one call into ``facereid.gallery.composition``, answered by
``facereid.web.routes.json_route`` like every other route; the service
provides ``models`` (``facereid.analysis.model_client.ModelClient``, the /analyze path's intake
and model calls).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bentoml
from pydantic import StrictBool, StrictFloat, StrictInt

from facereid.analysis.model_client import ModelClient
from facereid.config import get_settings
from facereid.gallery import schemas
from facereid.gallery.composition import GalleryCalls, GalleryComposition
from facereid.gallery.errors import GalleryUnavailableError, InvalidGalleryRequestError
from facereid.ops.audit import AuditLog, subject_digest
from facereid.web.routes import json_route
from facereid.web.tenancy import tenant_of
from runners.gallery import GalleryStoreService

logger = logging.getLogger(__name__)
settings = get_settings()
_LONG_OPERATIONS = frozenset({"cluster", "delete", "drop", "erase_tenant"})


def _audit_entry(
    ctx: bentoml.Context, tenant: str, route: str, request: dict[str, Any], result: Any
) -> None:
    """One audit entry for a gallery operation that succeeded: identifiers and counts only."""
    state = ctx.request.scope.get("state") or {}
    counts = {
        k: (len(v) if isinstance(v, list) else v)
        for k, v in (result if isinstance(result, dict) else {}).items()
        if isinstance(v, list) or (isinstance(v, int) and not isinstance(v, bool))
    }
    subject = request.get("subject")
    audit_log().record(
        tenant,
        key_id=state.get("api_key_id"),
        route=route,
        gallery=request.get("gallery") if isinstance(request.get("gallery"), str) else None,
        subject_digest=subject_digest(tenant, subject if isinstance(subject, str) else None),
        counts=counts,
        request_id=state.get("request_id"),
    )


_AUDIT: list[AuditLog] = []


def audit_log() -> AuditLog:
    if not _AUDIT:
        path = Path(settings.data_dir) / "audit.sqlite3"
        _AUDIT.append(AuditLog(path, settings.audit_retention_days))
    return _AUDIT[0]


class GalleryRoutes:
    gallery_store = bentoml.depends(GalleryStoreService)
    _gallery_composition: GalleryComposition | None = None

    models: ModelClient  # set by the service's __init__
    # redacts video results that named erased faces (service.py; facereid/video/redaction.py)
    erased_hook: Callable[[str, str | None, list[str] | None], Awaitable[int]] | None = None
    naming_jobs_hook: Callable[[str, str, list[str]], Awaitable[list[str]]] | None = None

    async def _gallery_execute(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            # clustering is O(n^2 d): 50k faces take about a minute on 2 cores; an erasure
            # rebuilds the gallery's index (docs/privacy.md): both get the long timeout
            timeout = (
                settings.gallery_cluster_timeout_s
                if operation in _LONG_OPERATIONS
                else settings.gallery_timeout_s
            )
            answer = await asyncio.wait_for(
                self.gallery_store.to_async.execute(operation=operation, arguments=arguments),
                timeout=timeout,
            )
        except TimeoutError as exc:
            raise GalleryUnavailableError("the gallery store did not answer in time") from exc
        except Exception as exc:  # store service down or restarting: 503, not 500
            raise GalleryUnavailableError(
                f"gallery store not reachable: {type(exc).__name__}"
            ) from exc
        return dict(answer)

    async def _gallery(
        self, route: str, ctx: bentoml.Context, request: dict[str, Any]
    ) -> dict[str, Any]:
        if self._gallery_composition is None:
            models = self.models
            calls = GalleryCalls(
                self._gallery_execute,
                models.read_header,
                models.analyze_encoded,
                models.face_model,
                self.erased_hook,
                self.naming_jobs_hook,
            )
            self._gallery_composition = GalleryComposition(settings, calls)
        request = {k: v for k, v in request.items() if k not in ("self", "ctx")}
        tenant = tenant_of(ctx.request.scope)
        # json_route (on each route) answers the dict, or a FaceReIDError with its status
        result = await self._gallery_composition.handle(route, tenant, request)
        await asyncio.to_thread(_audit_entry, ctx, tenant, route, request, result)
        return result

    # -- galleries ------------------------------------------------------------------------

    @bentoml.api(route="/gallery/enroll", output_spec=schemas.EnrollResponse)
    @json_route
    async def gallery_enroll(
        self,
        ctx: bentoml.Context,
        gallery: str,
        subject: str | None = None,
        image_data: str | None = None,
        embedding: list[StrictFloat] | None = None,
        embedding_b64: str | None = None,
        embedding_model: str | None = None,
        metadata: dict[str, Any] | None = None,
        image_id: str | None = None,
    ) -> Any:
        return await self._gallery("enroll", ctx, locals())

    @bentoml.api(route="/gallery/enroll_batch", output_spec=schemas.EnrollBatchResponse)
    @json_route
    async def gallery_enroll_batch(
        self,
        ctx: bentoml.Context,
        gallery: str,
        embedding_model: str,
        embeddings: list[list[StrictFloat]] | None = None,
        embeddings_b64: list[str] | str | None = None,
        dim: StrictInt | None = None,
        subjects: list[str | None] | None = None,
        metadata: list[dict[str, Any] | None] | None = None,
        image_ids: list[str | None] | None = None,
    ) -> Any:
        return await self._gallery("enroll_batch", ctx, locals())

    @bentoml.api(route="/gallery/search", output_spec=schemas.SearchResponse)
    @json_route
    async def gallery_search(
        self,
        ctx: bentoml.Context,
        gallery: str,
        image_data: str | None = None,
        embedding: list[StrictFloat] | None = None,
        embedding_b64: str | None = None,
        embedding_model: str | None = None,
        top_k: StrictInt = 5,
        threshold: StrictFloat | None = None,
        all_faces: StrictBool = False,
    ) -> Any:
        return await self._gallery("search", ctx, locals())

    @bentoml.api(route="/gallery/subjects", output_spec=schemas.SubjectsResponse)
    @json_route
    async def gallery_subjects(
        self, ctx: bentoml.Context, gallery: str, limit: StrictInt = 100, cursor: str | None = None
    ) -> Any:
        return await self._gallery("subjects", ctx, locals())

    @bentoml.api(route="/gallery/faces", output_spec=schemas.FacesResponse)
    @json_route
    async def gallery_faces(
        self,
        ctx: bentoml.Context,
        gallery: str,
        subject: str | None = None,
        limit: StrictInt = 100,
        cursor: str | None = None,
    ) -> Any:
        return await self._gallery("faces", ctx, locals())

    @bentoml.api(route="/gallery/delete", output_spec=schemas.DeleteResponse)
    @json_route
    async def gallery_delete(
        self,
        ctx: bentoml.Context,
        gallery: str,
        face_id: str | None = None,
        subject: str | None = None,
    ) -> Any:
        return await self._gallery("delete", ctx, locals())

    @bentoml.api(route="/gallery/rename", output_spec=schemas.RenameResponse)
    @json_route
    async def gallery_rename(
        self, ctx: bentoml.Context, gallery: str, subject: str, new_subject: str
    ) -> Any:
        return await self._gallery("rename", ctx, locals())

    @bentoml.api(route="/gallery/assign", output_spec=schemas.AssignResponse)
    @json_route
    async def gallery_assign(
        self, ctx: bentoml.Context, gallery: str, face_ids: list[str], subject: str
    ) -> Any:
        return await self._gallery("assign", ctx, locals())

    @bentoml.api(route="/gallery/drop", output_spec=schemas.DropResponse)
    @json_route
    async def gallery_drop(self, ctx: bentoml.Context, gallery: str) -> Any:
        return await self._gallery("drop", ctx, locals())

    @bentoml.api(route="/gallery/export", output_spec=schemas.ExportResponse)
    @json_route
    async def gallery_export(
        self,
        ctx: bentoml.Context,
        gallery: str,
        subject: str,
        include_embeddings: StrictBool = False,
        limit: StrictInt = 100,
        cursor: str | None = None,
    ) -> Any:
        """Everything held about a subject in a gallery (docs/privacy.md)."""
        return await self._gallery("export", ctx, locals())

    @bentoml.api(route="/tenant/erase", output_spec=schemas.TenantEraseResponse)
    @json_route
    async def tenant_erase(self, ctx: bentoml.Context, confirm: StrictBool) -> Any:
        """The caller's own tenant (its API key decides which): every gallery erased down to
        the disk, and erased faces' names taken out of its video results (docs/privacy.md)."""
        return await self._gallery("erase_tenant", ctx, locals())

    @bentoml.api(route="/audit/query", output_spec=schemas.AuditResponse)
    @json_route
    async def audit_query(
        self,
        ctx: bentoml.Context,
        since: StrictFloat | StrictInt = 0,
        until: StrictFloat | StrictInt | None = None,
        cursor: StrictInt = 0,
        limit: StrictInt = 100,
    ) -> Any:
        """The caller's tenant's audit entries in [since, until) (Unix seconds), oldest first;
        ``cursor`` is the last ``seq`` seen (docs/privacy.md)."""
        if not 1 <= limit <= 1000 or cursor < 0 or since < 0:
            raise InvalidGalleryRequestError("limit is 1-1000; cursor and since are >= 0")
        end = time.time() + 1 if until is None else float(until)
        entries, after = await asyncio.to_thread(
            audit_log().query, tenant_of(ctx.request.scope), float(since), end, cursor, limit
        )
        return {"entries": entries, "next_cursor": after}

    @bentoml.api(route="/gallery/list", output_spec=schemas.ListResponse)
    @json_route
    async def gallery_list(self, ctx: bentoml.Context) -> Any:
        return await self._gallery("list", ctx, {})

    @bentoml.api(route="/gallery/cluster", output_spec=schemas.ClusterResponse)
    @json_route
    async def gallery_cluster(
        self,
        ctx: bentoml.Context,
        gallery: str,
        min_faces: StrictInt = 3,
        threshold: StrictFloat | None = None,
    ) -> Any:
        return await self._gallery("cluster", ctx, locals())
