"""How many groups the face service splits a batch into (FACE_BATCH_GROUPS, auto = 0), how
many workers it runs (FACE_SERVICE_WORKERS, auto = 0), and the ONNX Runtime threads that
follow from both (runners/face.py)."""

from __future__ import annotations

import pytest

import runners.face as face
from facereid.config import Settings
from facereid.faces.onnx_runtime import CPU, CUDA


@pytest.fixture
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(face, "select_providers", lambda: [CPU])


def test_auto_is_one_group_per_decode_thread_up_to_the_cores(cpu_only: None) -> None:
    assert face.batch_groups(Settings(face_decode_threads=2), "insightface", cores=16) == 2
    assert face.batch_groups(Settings(face_decode_threads=8), "insightface", cores=4) == 4
    assert face.batch_groups(Settings(face_decode_threads=8), "insightface", cores=1) == 1


def test_auto_is_one_group_for_dlib_and_on_a_gpu(
    cpu_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert face.batch_groups(Settings(face_decode_threads=4), "dlib", cores=8) == 1
    monkeypatch.setattr(face, "select_providers", lambda: [CUDA, CPU])
    assert face.batch_groups(Settings(face_decode_threads=4), "insightface", cores=8) == 1


def test_a_set_value_wins(cpu_only: None) -> None:
    assert face.batch_groups(Settings(face_batch_groups=3), "dlib", cores=1) == 3


def test_auto_workers_are_two_on_a_cpu_host_and_one_per_gpu(
    cpu_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert face.service_workers(Settings(), cores=2) == 2
    assert face.service_workers(Settings(), cores=16) == 2
    assert face.service_workers(Settings(), cores=1) == 1
    assert face.service_workers(Settings(face_service_workers=3), cores=1) == 3
    monkeypatch.setattr(face, "select_providers", lambda: [CUDA, CPU])
    assert face.service_workers(Settings(), cores=16) == 1
    assert face.service_workers(Settings(face_service_workers=2), cores=16) == 2


def test_onnx_threads_leave_half_the_cores_across_workers_and_groups(
    cpu_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runners.face.os.cpu_count", lambda: 16)
    # 2 workers x 2 groups side by side, each with 2 ONNX Runtime threads: 8 of 16 cores
    auto = face.engine_settings(Settings(face_decode_threads=2, ort_intra_op_threads=0))
    assert auto.ort_intra_op_threads == 2
    one = face.engine_settings(
        Settings(face_batch_groups=1, face_service_workers=1, ort_intra_op_threads=0)
    )
    assert one.ort_intra_op_threads == 8
    assert face.engine_settings(Settings(ort_intra_op_threads=3)).ort_intra_op_threads == 3
