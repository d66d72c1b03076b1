"""Where uploaded videos wait for their job: ``DATA_DIR/video-uploads/job-<id>/upload``.

BentoML empties its per-request temp folder when the submit request ends, so the upload is
moved into a folder named after its job, under a fixed file name (never the client's name or
suffix: FFmpeg must not pick a demuxer from it). The file lives as long as its job is queued
or running, across restarts, and any worker that claims the job reads it there, so replicas
must share ``DATA_DIR`` (docs/video.md). A folder whose job is no longer active (ended, or a
submit that died between the move and the job record) is swept once it is older than a grace
period.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Collection
from pathlib import Path

from facereid.errors import VideoTooLargeError

logger = logging.getLogger(__name__)

UPLOAD_NAME = "upload"
_PREFIX = "job-"
_GRACE_S = 300.0  # a submit may still be checking a fresh upload before its job exists


class UploadArea:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, job_id: str) -> Path:
        return self.root / f"{_PREFIX}{job_id}" / UPLOAD_NAME

    def take(self, upload: Path, max_bytes: int, job_id: str) -> Path:
        """Move the upload to its job's folder; a file over ``max_bytes`` is refused."""
        size = upload.stat().st_size
        if size > max_bytes:
            upload.unlink(missing_ok=True)
            raise VideoTooLargeError(f"video is {size} bytes; the limit is {max_bytes}")
        target = self.path_of(job_id)
        target.parent.mkdir(parents=True, exist_ok=False)
        # Copy to a temporary name first: a half-moved file (across file systems) never
        # carries the name a worker reads.
        partial = target.parent / ".partial"
        shutil.move(str(upload), partial)
        partial.rename(target)
        return target

    def sweep(self, active: Collection[str], grace_s: float = _GRACE_S) -> int:
        """Remove the folders of jobs that are not active; returns how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            job_id = folder.name.removeprefix(_PREFIX)
            if job_id in active:
                continue
            try:
                if now - folder.stat().st_mtime < grace_s:
                    continue
            except FileNotFoundError:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        if removed:
            logger.info(
                "removed %d video upload folder(s) of ended jobs under %s", removed, self.root
            )
        return removed


def discard_upload(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
