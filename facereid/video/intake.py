"""Video intake: probe the container header, check the limits, then decode and sample frames.

PyAV (FFmpeg) decodes MP4/H.264, WebM/VP8/VP9, AVI and whatever else its bundled FFmpeg reads.
Every limit is decided from the file size and the container header before any frame is
decoded; a header without a duration is checked again while decoding. A file that breaks off
mid-stream (truncated) yields the frames before the break and says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facereid.errors import (
    EmptyVideoError,
    InvalidVideoError,
    UnsupportedVideoError,
    VideoResolutionTooLargeError,
    VideoTooLargeError,
    VideoTooLongError,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int
    max_seconds: float
    max_side: int  # larger frames are rejected
    process_side: int  # larger frames are downscaled to this longest side before detection


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says."""

    width: int
    height: int
    duration_s: float | None
    fps: float | None
    codec: str
    container: str
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "fps": None if self.fps is None else round(self.fps, 3),
            "codec": self.codec,
            "container": self.container,
            "size_bytes": self.size_bytes,
        }


@dataclass
class SampledFrame:
    index: int  # position among the sampled frames
    time_s: float  # from the first frame
    image: np.ndarray  # BGR uint8, at most process_side on its longest side
    scale: float  # original pixels per processed pixel (>= 1)


def probe_video(path: Path, limits: VideoLimits) -> VideoInfo:
    """Check size, container, stream and header limits without decoding a frame."""
    import av

    size = path.stat().st_size
    if size == 0:
        raise EmptyVideoError("the video file is empty")
    if size > limits.max_bytes:
        raise VideoTooLargeError(f"video is {size} bytes; the limit is {limits.max_bytes}")
    try:
        with av.open(str(path), mode="r") as container:
            streams = container.streams.video
            if not streams:
                raise UnsupportedVideoError("the file holds no video stream")
            stream = streams[0]
            ctx = stream.codec_context
            width, height = int(ctx.width or 0), int(ctx.height or 0)
            codec = str(ctx.name or "unknown")
            duration = _duration_s(container, stream)
            fps = float(stream.average_rate) if stream.average_rate else None
            fmt = str(container.format.name)
    except av.error.FFmpegError as exc:
        # A container we know that does not open is broken (e.g. an MP4 truncated before its
        # moov atom); anything else is a format FFmpeg does not read as video.
        if _looks_like_known_video(path):
            raise InvalidVideoError(f"the video is corrupt or truncated: {exc.strerror}") from exc
        raise UnsupportedVideoError("not a video format that can be decoded") from exc
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        raise UnsupportedVideoError(f"this is an image ({fmt}), not a video; use /analyze")
    if width <= 0 or height <= 0:
        raise InvalidVideoError("the video stream has no frame size")
    if max(width, height) > limits.max_side:
        raise VideoResolutionTooLargeError(
            f"video is {width}x{height}; the largest side allowed is {limits.max_side}"
        )
    if duration is not None and duration > limits.max_seconds:
        raise VideoTooLongError(
            f"video lasts {duration:.1f} s; the limit is {limits.max_seconds:g} s"
        )
    return VideoInfo(width, height, duration, fps, codec, fmt, size)


def expected_samples(info: VideoInfo, sample_fps: float) -> int | None:
    """How many frames ``iter_sampled_frames`` will yield, when the header knows the duration."""
    if info.duration_s is None:
        return None
    return max(1, math.floor(info.duration_s * sample_fps + 1e-6))


class DecodeReport:
    """Filled in while decoding: whether the stream broke off."""

    def __init__(self) -> None:
        self.truncated = False
        self.error: str | None = None
        self.frames_decoded = 0


def iter_sampled_frames(
    path: Path,
    info: VideoInfo,
    limits: VideoLimits,
    sample_fps: float,
    report: DecodeReport | None = None,
) -> Generator[SampledFrame, None, None]:
    """Decode the first video stream and yield one frame per ``1 / sample_fps`` seconds.

    Raises ``EmptyVideoError`` when no frame decodes at all, ``InvalidVideoError`` when the
    stream is broken before the first frame, ``VideoTooLongError`` when a header without a
    duration hid a video over the limit.
    """
    import av

    report = report if report is not None else DecodeReport()
    interval = 1.0 / sample_fps
    scale = max(1.0, max(info.width, info.height) / limits.process_side)
    out_w = _even(info.width / scale)
    out_h = _even(info.height / scale)
    next_time = 0.0
    start: float | None = None
    index = 0
    try:
        with av.open(str(path), mode="r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                report.frames_decoded += 1
                t = _frame_time(frame, report.frames_decoded, info.fps)
                start = t if start is None else start
                t -= start
                if t > limits.max_seconds:
                    raise VideoTooLongError(
                        f"video lasts over the limit of {limits.max_seconds:g} s"
                    )
                if t + 1e-6 < next_time:
                    continue
                image = frame.to_ndarray(width=out_w, height=out_h, format="bgr24")
                yield SampledFrame(index, round(t, 4), np.ascontiguousarray(image), scale)
                index += 1
                next_time = (math.floor(t / interval + 1e-6) + 1) * interval
    except av.error.FFmpegError as exc:
        if index == 0:
            raise InvalidVideoError(f"the video stream is corrupt: {exc.strerror}") from exc
        report.truncated = True
        report.error = str(exc.strerror)
        logger.warning("video decoding stopped after %d frames: %s", index, exc)
    if index == 0:
        raise EmptyVideoError("the video holds no decodable frame")
    if info.duration_s is not None and index < (expected_samples(info, sample_fps) or 0) * 0.8:
        # FFmpeg often ends a cut-off stream quietly instead of raising.
        report.truncated = True


def _duration_s(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(Fraction(container.duration, 1_000_000))
    return None


def _frame_time(frame: Any, count: int, fps: float | None) -> float:
    if frame.time is not None:
        return float(frame.time)
    return (count - 1) / (fps or 25.0)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


_IMAGE_FORMATS = {"image2", "apng", "webp", "tiff"}
_SIGNATURES = (b"ftyp", b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"FLV", b"\x00\x00\x01\xba")


def _looks_like_known_video(path: Path) -> bool:
    """A file that starts like a video container but does not open is broken, not foreign."""
    with path.open("rb") as handle:
        head = handle.read(16)
    return any(sig in head for sig in _SIGNATURES)
