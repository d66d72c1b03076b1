"""What the API service knows about the CLIP emotion service's reachability.

One state object, read by ``/health`` and by the readiness check, written by the poller and
by every emotion call, so a failed call degrades health at once and a good poll restores it.
The ``facereid_clip_available`` gauge follows every change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from facereid.ops import metrics


@dataclass
class ClipHealth:
    available: bool = False
    reason: str | None = "not checked yet"
    detail: dict[str, object] = field(default_factory=dict)
    checked_at: float = 0.0

    def mark_available(self, detail: dict[str, object]) -> None:
        self.available = True
        self.reason = None
        self.detail = detail
        self.checked_at = time.time()
        metrics.set_clip_available(True)

    def mark_unavailable(self, reason: str) -> None:
        self.available = False
        self.reason = reason
        self.checked_at = time.time()
        metrics.set_clip_available(False)

    def as_status(self) -> str:
        return "available" if self.available else "unavailable"
