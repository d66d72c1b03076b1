"""Who owns a request: the tenant that video jobs and galleries belong to.

``ApiKeyMiddleware`` puts the tenant of the validated key in ``scope["state"]["tenant"]``.
Without authentication every caller is the one shared tenant, ``DEFAULT_TENANT``. Routes read it
with ``tenant_of(ctx.request.scope)`` and pass it down; the library never guesses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_TENANT = "default"


def tenant_of(scope: Mapping[str, Any]) -> str:
    """The tenant recorded for this request, or the shared one when auth is off."""
    state = scope.get("state") or {}
    tenant = state.get("tenant") if isinstance(state, Mapping) else None
    return tenant if isinstance(tenant, str) and tenant else DEFAULT_TENANT
