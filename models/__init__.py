"""Model provisioning: ``python -m models pull|import|synth|list|ensure``.

Every command writes the same two names into the BentoML store (``facereid-insightface``,
``facereid-clip``), so the service finds real and synthetic models the same way.
"""

from __future__ import annotations

from facereid.errors import FaceReIDError


class ModelProvisioningError(FaceReIDError):
    """A model that cannot be provisioned. The message is one sentence that says what is wrong
    and which command fixes it; the CLI prints it and exits 1."""

    code = "model_provisioning_failed"
    status = 503


__all__ = ["ModelProvisioningError"]
