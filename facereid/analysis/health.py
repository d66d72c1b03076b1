"""``GET /health``: the face model service's identity and the CLIP service's state.

Reasons are sentences for a person: what is wrong, never an exception's class or text (connection
errors carry internal host:port pairs that a public health endpoint must not echo; the log has
both).
"""

from __future__ import annotations

import logging
from typing import Any

from facereid.analysis.model_client import describe
from facereid.emotion.clip_health import ClipHealth
from facereid.wire.clients import FaceClient

logger = logging.getLogger(__name__)

SYNTHETIC_WARNING = "synthetic stand-in models loaded: results are not real"


class HealthEndpoint:
    """A ``chain.get_routes_app`` handler. The app exists before the service instance,
    so the instance attaches its face client when it starts (503 "starting" until then)."""

    def __init__(self, clip_health: ClipHealth) -> None:
        self.clip_health = clip_health
        self.faces: FaceClient | None = None

    async def __call__(self) -> tuple[int, dict[str, Any]]:
        if self.faces is None:
            return 503, {"status": "starting", "clip_service": "unknown"}
        try:
            return 200, await self.payload(self.faces)
        except Exception as exc:  # the face model service is not answering: not a 500
            logger.warning("face model service not reachable: %s", describe(exc))
            return 503, {
                "status": "unavailable",
                "clip_service": self.clip_health.as_status(),
                "reason": "the face model service is not answering; see the server log",
            }

    async def payload(self, faces: FaceClient) -> dict[str, Any]:
        model = await faces.model_info()
        clip = self.clip_health
        payload: dict[str, Any] = {
            "status": "healthy" if clip.available else "degraded",
            "clip_service": clip.as_status(),
            "engine": model.engine,
            "face_model": model.model_dump(),
            "clip_model": clip.detail if clip.available else None,  # the name before fer
            "emotion_model": clip.detail if clip.available else None,
        }
        if not clip.available:
            payload["reason"] = clip.reason
        if model.synthetic or clip.detail.get("synthetic"):
            payload["warning"] = SYNTHETIC_WARNING
        return payload
