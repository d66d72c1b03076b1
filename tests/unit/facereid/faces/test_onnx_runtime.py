"""Provider selection and session creation."""

from __future__ import annotations

import logging

import pytest

from facereid.faces.onnx_runtime import create_session, select_providers
from models.synth.insightface_pack import build_landmark

CUDA, CPU, TRT = "CUDAExecutionProvider", "CPUExecutionProvider", "TensorrtExecutionProvider"


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        ([TRT, CUDA, CPU], [CUDA, CPU]),  # TensorRT is never picked by default
        ([CUDA, CPU], [CUDA, CPU]),
        ([CPU, CUDA], [CUDA, CPU]),  # CUDA first whatever the listing order
        (["AzureExecutionProvider", CPU], [CPU]),
        ([CPU], [CPU]),
        ([], [CPU]),
    ],
)
def test_select_providers(available: list[str], expected: list[str]) -> None:
    assert select_providers(available) == expected


def test_select_providers_defaults_to_this_machine() -> None:
    assert select_providers()[-1] == CPU


def test_create_session_from_bytes_logs_providers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="facereid.faces.onnx_runtime"):
        session = create_session(build_landmark().SerializeToString(), intra_op_threads=1)
    assert session.get_inputs()[0].shape[1:] == [3, 192, 192]
    assert CPU in caplog.text
