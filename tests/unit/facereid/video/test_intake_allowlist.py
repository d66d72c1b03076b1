"""Video intake as an attacker would try it (issue 12): only allowed containers and codecs are
opened, nothing reaches a demuxer that opens other files, every decoded frame is checked, and
decoding is bounded in frames and time."""

from __future__ import annotations

from pathlib import Path

import pytest

from facereid.errors import (
    UnsupportedVideoError,
    VideoResolutionTooLargeError,
    VideoTooComplexError,
)
from facereid.video.intake import VideoLimits, iter_sampled_frames, probe_video, sniff_container
from facereid.video.uploads import UploadArea
from tests.video_builder import (
    ffconcat_self,
    flat_frames,
    hls_playlist,
    lying_mjpeg_mkv,
    write_video,
)

LIMITS = VideoLimits(max_bytes=50_000_000, max_seconds=60, max_side=3840, process_side=640)


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    """A video that only the server has: a playlist must not be able to read it."""
    return write_video(tmp_path / "secret.mp4", flat_frames(20))


def test_hls_playlist_naming_a_server_file_is_refused(tmp_path: Path, server_file: Path) -> None:
    upload = tmp_path / "p.m3u8"
    upload.write_bytes(hls_playlist(server_file))
    with pytest.raises(UnsupportedVideoError) as info:
        probe_video(upload, LIMITS)
    assert (info.value.code, info.value.status) == ("unsupported_video", 415)


def test_self_referencing_ffconcat_is_refused_by_its_bytes(tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.write_bytes(ffconcat_self("upload"))
    with pytest.raises(UnsupportedVideoError, match="not an accepted video container"):
        probe_video(upload, LIMITS)


def test_the_clients_file_name_is_never_kept(tmp_path: Path, server_file: Path) -> None:
    upload = tmp_path / "p.m3u8"
    upload.write_bytes(hls_playlist(server_file))
    stored = UploadArea(tmp_path / "uploads").take(upload, 1_000_000, "job")
    try:
        assert stored.name == "upload" and stored.suffix == ""
        assert stored.parent.parent == tmp_path / "uploads"
    finally:
        stored.unlink()


@pytest.mark.parametrize(
    ("name", "codec", "demuxer"),
    [("a.mov", "libx264", "mov"), ("a.mkv", "libx264", "matroska"), ("a.avi", "mjpeg", "avi")],
)
def test_allowed_containers_open(tmp_path: Path, name: str, codec: str, demuxer: str) -> None:
    pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    path = write_video(tmp_path / name, flat_frames(10), codec=codec, pix_fmt=pix_fmt)
    assert sniff_container(path) == demuxer
    info = probe_video(path, LIMITS)
    assert info.codec == codec.removeprefix("lib").replace("x264", "h264")
    assert len(list(iter_sampled_frames(path, info, LIMITS, 2.0))) == 2


def test_a_codec_off_the_list_is_refused(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mkv", flat_frames(10), codec="mpeg2video")
    with pytest.raises(UnsupportedVideoError, match="mpeg2video"):
        probe_video(path, LIMITS)


def test_frames_larger_than_the_header_fail_the_decode(tmp_path: Path) -> None:
    path = lying_mjpeg_mkv(tmp_path / "lie.mkv", frames=5)
    info = probe_video(path, LIMITS)
    assert (info.width, info.height) == (64, 64)  # the header check passes
    yielded = []
    with pytest.raises(VideoResolutionTooLargeError) as err:
        for frame in iter_sampled_frames(path, info, LIMITS, 10.0):
            yielded.append(frame.image.shape)
    assert err.value.code == "video_resolution_too_large"
    assert "4000x4000" in err.value.message
    assert yielded == [(64, 64, 3)]  # only the honest first frame got through


def test_decoded_frames_are_bounded(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", flat_frames(30, size=(64, 48)))
    limits = VideoLimits(50_000_000, 60, 3840, 640, max_frames=12)
    info = probe_video(path, limits)
    with pytest.raises(VideoTooComplexError, match="12 frames") as err:
        list(iter_sampled_frames(path, info, limits, 1.0))
    assert (err.value.code, err.value.status) == ("video_too_complex", 413)


def test_decode_time_is_bounded(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", flat_frames(30, size=(64, 48)))
    limits = VideoLimits(50_000_000, 60, 3840, 640, max_decode_s=0.0)
    info = probe_video(path, limits)
    with pytest.raises(VideoTooComplexError, match="VIDEO_MAX_DECODE_S"):
        list(iter_sampled_frames(path, info, limits, 1.0))
