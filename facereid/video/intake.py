"""Video intake: probe the container header, check the limits, then decode and sample frames.

Only an allow-list is opened (docs/security.md): the container is chosen from the file's
first bytes (MP4/MOV, Matroska/WebM, AVI) and handed to FFmpeg by name, so FFmpeg never probes
its way into a demuxer that opens other files (HLS playlists, concat lists, image sequences);
``protocol_whitelist=file`` and MOV's default of ignoring external data references keep even
the allowed demuxers inside the one file. The video codec must be on ``ALLOWED_CODECS``.

The size and the container header are checked before any frame is decoded; every decoded
frame is checked again (a stream may carry frames larger than its header says), and the
number of decoded frames and the time spent decoding are bounded. A file that breaks off
mid-stream (truncated) yields the frames before the break and says so.
"""

from __future__ import annotations

import logging
import math
import time
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
    VideoTooComplexError,
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
    max_frames: int = 100_000  # decoded frames (not only sampled ones)
    max_decode_s: float = 600.0  # wall time spent inside the decoder, per pass


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
    """Check size, container, codec and header limits without decoding a frame."""
    import av

    size = path.stat().st_size
    if size == 0:
        raise EmptyVideoError("the video file is empty")
    if size > limits.max_bytes:
        raise VideoTooLargeError(f"video is {size} bytes; the limit is {limits.max_bytes}")
    demuxer = sniff_container(path)
    try:
        with open_container(path, demuxer) as container:
            streams = container.streams.video
            if not streams:
                raise UnsupportedVideoError("the file holds no video stream")
            stream = streams[0]
            ctx = stream.codec_context
            width, height = int(ctx.width or 0), int(ctx.height or 0)
            codec = str(ctx.codec.canonical_name or ctx.name or "unknown")
            duration = _duration_s(container, stream)
            fps = float(stream.average_rate) if stream.average_rate else None
            fmt = str(container.format.name)
    except av.error.FFmpegError as exc:
        # The first bytes named a container we read, so one that does not open is broken
        # (e.g. an MP4 truncated before its moov atom).
        raise InvalidVideoError(f"the video is corrupt or truncated: {exc.strerror}") from exc
    if codec not in ALLOWED_CODECS:
        allowed = ", ".join(sorted(ALLOWED_CODECS))
        raise UnsupportedVideoError(f"video codec {codec[:32]!r} is not accepted ({allowed})")
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


# FFmpeg demuxer names. Each reads one file and opens no other (MOV's external data
# references stay off: its ``enable_drefs`` defaults to false and is never set here).
MOV, MATROSKA, AVI = "mov", "matroska", "avi"
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg"})
_MOV_ATOMS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def sniff_container(path: Path) -> str:
    """The demuxer for this file, from its first bytes; anything else is refused."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[4:8] in _MOV_ATOMS:
        return MOV
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska and WebM
        return MATROSKA
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(_IMAGE_SIGNATURES) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        raise UnsupportedVideoError("this is an image, not a video; use /analyze")
    raise UnsupportedVideoError("not an accepted video container (MP4/MOV, Matroska/WebM, AVI)")


def open_container(path: Path, demuxer: str) -> Any:
    """Open with the named demuxer only, reading local files only."""
    import av

    return av.open(
        str(path), mode="r", format=demuxer, container_options={"protocol_whitelist": "file"}
    )


def expected_samples(info: VideoInfo, sample_fps: float) -> int | None:
    """How many frames ``iter_sampled_frames`` will yield, when the header knows the duration.

    It takes the first frame at or after each point 0, 1/fps, 2/fps, ... up to the last
    frame, which starts one frame before the end: ``floor(last * fps) + 1``, and never more than
    the video's frames. (``floor(duration * fps)`` said 18 for the 9.18 s Hamilton clip at
    2 fps, where 19 were sampled.)"""
    if info.duration_s is None:
        return None
    if not info.fps:
        return max(1, math.ceil(info.duration_s * sample_fps - 1e-6))
    last = max(0.0, info.duration_s - 1.0 / info.fps)
    frames = max(1, round(info.duration_s * info.fps))
    return min(frames, math.floor(last * sample_fps + 1e-6) + 1)


class DecodeReport:
    """Filled in while decoding: whether the stream broke off."""

    def __init__(self) -> None:
        self.truncated = False
        self.error: str | None = None
        self.frames_decoded = 0
        # The first frame's time on the stream's own clock: result times count from it, and
        # players that show that clock (browsers) are at start_s + time_s (issue 23).
        self.start_s = 0.0


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
    next_time = 0.0
    start: float | None = None
    index = 0
    clock = DecodeClock(limits.max_decode_s)
    try:
        with open_container(path, sniff_container(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                report.frames_decoded += 1
                _check_frame(frame, report.frames_decoded, limits)
                clock.check()
                t = _frame_time(frame, report.frames_decoded, info.fps)
                if start is None:
                    start = report.start_s = t
                t -= start
                if t > limits.max_seconds:
                    raise VideoTooLongError(
                        f"video lasts over the limit of {limits.max_seconds:g} s"
                    )
                if t + 1e-6 < next_time:
                    continue
                # The scale follows each frame, not the header: the two may differ.
                scale = max(1.0, max(frame.width, frame.height) / limits.process_side)
                out_w, out_h = _even(frame.width / scale), _even(frame.height / scale)
                image = frame.to_ndarray(width=out_w, height=out_h, format="bgr24")
                clock.pause()
                yield SampledFrame(index, round(t, 4), np.ascontiguousarray(image), scale)
                clock.resume()
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


class DecodeClock:
    """Wall time spent decoding, not counting the time the consumer holds a yielded frame."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.spent = 0.0
        self._since: float | None = time.monotonic()

    def pause(self) -> None:
        if self._since is not None:
            self.spent += time.monotonic() - self._since
            self._since = None

    def resume(self) -> None:
        self._since = time.monotonic()

    def check(self) -> None:
        running = 0.0 if self._since is None else time.monotonic() - self._since
        if self.spent + running > self.limit_s:
            raise VideoTooComplexError(
                f"decoding took over {self.limit_s:g} s (VIDEO_MAX_DECODE_S)"
            )


def _check_frame(frame: Any, count: int, limits: VideoLimits) -> None:
    """Every decoded frame, not only the header: a stream may carry larger frames."""
    if max(frame.width, frame.height) > limits.max_side:
        raise VideoResolutionTooLargeError(
            f"frame {count} is {frame.width}x{frame.height}; "
            f"the largest side allowed is {limits.max_side}"
        )
    if count > limits.max_frames:
        raise VideoTooComplexError(
            f"the video holds over {limits.max_frames} frames (VIDEO_MAX_FRAMES)"
        )


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
