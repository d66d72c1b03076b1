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

import logging
from typing import Any

import bentoml

from facereid.analysis.analyze import Analyzer
from facereid.config import get_settings
from facereid.gallery import schemas
from facereid.gallery.client import GalleryServiceClient
from facereid.gallery.composition import GalleryComposition
from facereid.web.routes import json_route
from facereid.web.tenancy import tenant_of
from runners.gallery import GalleryStoreService

logger = logging.getLogger(__name__)
settings = get_settings()


class GalleryRoutes:
    gallery_store = bentoml.depends(GalleryStoreService)
    _gallery_composition: GalleryComposition | None = None

    analyzer: Analyzer  # set by the service's __init__

    @property
    def gallery_client(self) -> GalleryServiceClient:
        """The store service's typed client (video jobs search and check galleries too)."""
        return GalleryServiceClient(settings, self.gallery_store)

    @property
    def galleries(self) -> GalleryComposition:
        if self._gallery_composition is None:
            self._gallery_composition = GalleryComposition(
                settings, self.gallery_client, self.analyzer
            )
        return self._gallery_composition

    # -- galleries: one typed request in, one typed call ------------------------------------

    @bentoml.api(route="/gallery/enroll", output_spec=schemas.EnrollResponse)
    @json_route
    async def gallery_enroll(self, request: schemas.EnrollRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.enroll(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/enroll_batch", output_spec=schemas.EnrollBatchResponse)
    @json_route
    async def gallery_enroll_batch(
        self, request: schemas.EnrollBatchRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self.galleries.enroll_batch(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/search", output_spec=schemas.SearchResponse)
    @json_route
    async def gallery_search(self, request: schemas.SearchRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.search(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/subjects", output_spec=schemas.SubjectsResponse)
    @json_route
    async def gallery_subjects(
        self, request: schemas.SubjectsRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self.galleries.subjects(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/faces", output_spec=schemas.FacesResponse)
    @json_route
    async def gallery_faces(self, request: schemas.FacesRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.faces(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/delete", output_spec=schemas.DeleteResponse)
    @json_route
    async def gallery_delete(self, request: schemas.DeleteRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.delete(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/rename", output_spec=schemas.RenameResponse)
    @json_route
    async def gallery_rename(self, request: schemas.RenameRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.rename(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/assign", output_spec=schemas.AssignResponse)
    @json_route
    async def gallery_assign(self, request: schemas.AssignRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.assign(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/drop", output_spec=schemas.DropResponse)
    @json_route
    async def gallery_drop(self, request: schemas.DropRequest, /, ctx: bentoml.Context) -> Any:
        return await self.galleries.drop(tenant_of(ctx.request.scope), request)

    @bentoml.api(route="/gallery/list", output_spec=schemas.ListResponse)
    @json_route
    async def gallery_list(self, ctx: bentoml.Context) -> Any:
        return await self.galleries.list(tenant_of(ctx.request.scope))

    @bentoml.api(route="/gallery/cluster", output_spec=schemas.ClusterResponse)
    @json_route
    async def gallery_cluster(
        self, request: schemas.ClusterRequest, /, ctx: bentoml.Context
    ) -> Any:
        return await self.galleries.cluster(tenant_of(ctx.request.scope), request)
