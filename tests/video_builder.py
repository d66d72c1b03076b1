"""Synthetic test videos written with PyAV from photos that packages ship.

The scenario over insightface's t1.jpg (six real faces, 1280x886), at 320x240 output:
- 0.0-2.0 s: a slow pan over the left half (faces C, F, E);
- 2.0-3.0 s: a cut to Tom_Hanks_54745.png on a grey background (one other person);
- 3.0-5.0 s: a cut to the right half of t1 (faces D, A, B);
- 5.0-6.0 s: a pan back to the left: the right-half faces leave, the left-half ones re-enter;
- 6.0-7.0 s: held on the left half (C, F, E again).
So 7 people; C, F and E are seen at 0-2 s and again from about 5.5 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

OUT_W, OUT_H = 320, 240
WIN_W, WIN_H = 640, 480  # source window, downscaled by 2
LEFT_X, RIGHT_X, WIN_Y = 0, 620, 150
RIGHT_Y = 40
FPS = 10


def write_video(
    path: Path,
    frames: Sequence[np.ndarray],
    fps: int = FPS,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode BGR frames; the container follows the file suffix (.mp4, .webm, .avi)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width = frames[0].shape[1]
        stream.height = frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def window(photo: np.ndarray, x: int, y: int) -> np.ndarray:
    crop = photo[y : y + WIN_H, x : x + WIN_W]
    canvas = np.full((WIN_H, WIN_W, 3), 128, np.uint8)
    canvas[: crop.shape[0], : crop.shape[1]] = crop
    return cv2.resize(canvas, (OUT_W, OUT_H), interpolation=cv2.INTER_AREA)


def portrait(face: np.ndarray) -> np.ndarray:
    canvas = np.full((OUT_H, OUT_W, 3), 128, np.uint8)
    big = cv2.resize(face, (200, 200), interpolation=cv2.INTER_CUBIC)
    canvas[20:220, 60:260] = big
    return canvas


def t1_scenario(t1: Path, tom: Path) -> list[np.ndarray]:
    photo = cv2.imread(str(t1))
    face = cv2.imread(str(tom))
    assert photo is not None and face is not None, "unreadable scenario image"
    frames: list[np.ndarray] = []
    for i in range(20):  # 0.0-2.0 s: pan right by 3 px per frame
        frames.append(window(photo, LEFT_X + 3 * i, WIN_Y))
    frames += [portrait(face)] * 10  # 2.0-3.0 s
    frames += [window(photo, RIGHT_X, RIGHT_Y)] * 20  # 3.0-5.0 s
    for i in range(1, 11):  # 5.0-6.0 s: pan back left
        x = round(RIGHT_X * (1 - i / 10))
        y = round(RIGHT_Y + (WIN_Y - RIGHT_Y) * i / 10)
        frames.append(window(photo, x, y))
    frames += [window(photo, LEFT_X, WIN_Y)] * 10  # 6.0-7.0 s
    return frames


def flat_frames(count: int, size: tuple[int, int] = (OUT_W, OUT_H)) -> list[np.ndarray]:
    return [np.full((size[1], size[0], 3), 90 + i % 50, np.uint8) for i in range(count)]


# -- hostile files (issue 12) --------------------------------------------------------------


def hls_playlist(segment: Path) -> bytes:
    """An HLS playlist whose one segment is a file on the server: FFmpeg's ``hls`` demuxer
    would open it, bypassing the upload (and its size limit)."""
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\nfile:{segment}\n#EXT-X-ENDLIST\n"
    ).encode()


def ffconcat_self(name: str = "upload") -> bytes:
    """An ffconcat list naming itself: FFmpeg's ``concat`` demuxer would loop on it."""
    return f"ffconcat version 1.0\nfile {name}\nfile {name}\n".encode()


def lying_mjpeg_mkv(path: Path, frames: int = 3, side: int = 4000, declared: int = 64) -> Path:
    """An MKV whose MJPEG stream declares ``declared``² (and whose first JPEG, which FFmpeg
    probes, is that size) but whose later JPEGs are ``side``²: the header passes a size check
    that the decoded frames would fail."""
    small = np.full((declared, declared, 3), 128, np.uint8)
    big = np.full((side, side, 3), 128, np.uint8)
    cv2.circle(big, (side // 2, side // 2), side // 3, (40, 200, 90), -1)
    jpegs = [
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])[1] for image in (small, big)
    ]
    with av.open(str(path), mode="w", format="matroska") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width = stream.height = declared
        stream.pix_fmt = "yuvj420p"
        for i in range(frames):
            packet = av.Packet(jpegs[min(i, 1)].tobytes())
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, 10)
            container.mux(packet)
    return path
