"""ONNX Runtime provider selection (CUDA first, then CPU) and session creation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import onnxruntime as ort

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# TensorRT is left out on purpose: its engine builds take minutes on first use and need
# per-shape caches; enable it explicitly when that is wanted.
PREFERRED_PROVIDERS = (CUDA, CPU)


class ValueInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> Sequence[Any]: ...


class InferenceSession(Protocol):
    """What the engines use of ``onnxruntime.InferenceSession`` (tests hand in fakes)."""

    def get_inputs(self) -> Sequence[ValueInfo]: ...
    def get_outputs(self) -> Sequence[ValueInfo]: ...
    def run(self, output_names: list[str] | None, feeds: dict[str, Any]) -> list[Any]: ...


def select_providers(available: list[str] | None = None) -> list[str]:
    """Providers to request, in order: CUDA when available, then CPU (always last)."""
    if available is None:
        available = list(ort.get_available_providers())
    chosen = [p for p in PREFERRED_PROVIDERS if p in available and p != CPU]
    chosen.append(CPU)
    return chosen


def create_session(
    model: str | bytes | Path,
    *,
    intra_op_threads: int = 0,
    providers: Sequence[str] | None = None,
) -> ort.InferenceSession:
    """An InferenceSession with all graph optimisations on and the chosen providers.

    ``model`` is a path or serialised ONNX bytes (e.g. a batch-edited detector).
    ``intra_op_threads=0`` lets ONNX Runtime decide. ``providers``: a caller's own list (e.g.
    CPU only for a parity check); by default ``select_providers()``.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads > 0:
        options.intra_op_num_threads = intra_op_threads
    chosen = list(providers) if providers is not None else select_providers()
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, sess_options=options, providers=chosen)
    label = f"<{len(model)} bytes>" if isinstance(model, bytes) else str(model)
    logger.info("ONNX session for %s on providers %s", label, session.get_providers())
    return session
