"""The upload folder: fixed names in a folder per job; folders of jobs that are no longer
active are swept, those of active jobs (and fresh submits) kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from facereid.errors import VideoTooLargeError
from facereid.video.uploads import UploadArea, discard_upload


def test_uploads_get_a_fixed_name_in_their_jobs_folder(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads")
    sent = tmp_path / "evil.m3u8"
    sent.write_bytes(b"data")
    stored = area.take(sent, 100, "abc")
    assert stored == area.path_of("abc") and stored.name == "upload"
    assert stored.read_bytes() == b"data" and not sent.exists()
    discard_upload(stored)
    assert not stored.parent.exists()


def test_an_upload_over_the_limit_is_refused_and_removed(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads")
    sent = tmp_path / "big"
    sent.write_bytes(b"x" * 101)
    with pytest.raises(VideoTooLargeError):
        area.take(sent, 100, "abc")
    assert not sent.exists() and not area.path_of("abc").exists()


def test_sweep_keeps_active_and_fresh_folders(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads")
    for job_id in ("active", "ended", "fresh"):
        sent = tmp_path / job_id
        sent.write_bytes(b"x")
        area.take(sent, 100, job_id)
    old = time.time() - 3600
    for job_id in ("active", "ended"):
        os.utime(area.path_of(job_id).parent, (old, old))
    assert area.sweep({"active"}) == 1
    assert area.path_of("active").exists() and area.path_of("fresh").exists()
    assert not area.path_of("ended").parent.exists()
