"""Where uploaded videos wait for their job: one folder the service owns, swept at start.

BentoML empties its per-request temp folder when the submit request ends, so the upload is
moved to ``DATA_DIR/video-uploads/run-*/job-*/upload``: a fixed name, never the client's file
name or suffix (FFmpeg must not pick a demuxer from it). Each process holds an exclusive
``flock`` on its own ``run-*/.lock`` for its lifetime; at start, every ``run-*`` folder whose
lock can be taken belongs to a process that is gone (a crash, a kill, a restart) and is
removed. Servers sharing one ``DATA_DIR`` therefore never sweep each other's uploads.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO

from facereid.errors import VideoTooLargeError

logger = logging.getLogger(__name__)

UPLOAD_NAME = "upload"
_LOCK = ".lock"
_UNLOCKED_GRACE_S = 60.0  # a run folder seconds old may not hold its lock file yet


class UploadArea:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._run: Path | None = None
        self._lock: IO[str] | None = None
        self.swept = sweep_stale_runs(root)

    def folder(self) -> Path:
        """This process's run folder, created (and locked) on first use."""
        if self._run is None:
            self.root.mkdir(parents=True, exist_ok=True)
            run = Path(tempfile.mkdtemp(prefix="run-", dir=self.root))
            lock = (run / _LOCK).open("w")
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._run, self._lock = run, lock
        return self._run

    def take(self, upload: Path, max_bytes: int) -> Path:
        return take_upload(upload, max_bytes, self.folder())


def take_upload(upload: Path, max_bytes: int, folder: Path) -> Path:
    """Move the upload into a job folder of its own under ``folder``, named ``upload``."""
    size = upload.stat().st_size
    if size > max_bytes:
        upload.unlink(missing_ok=True)
        raise VideoTooLargeError(f"video is {size} bytes; the limit is {max_bytes}")
    folder.mkdir(parents=True, exist_ok=True)
    job_folder = Path(tempfile.mkdtemp(prefix="job-", dir=folder))
    target = job_folder / UPLOAD_NAME
    shutil.move(str(upload), target)
    return target


def discard_upload(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


def sweep_stale_runs(root: Path) -> int:
    """Remove the run folders of processes that are gone; returns how many."""
    if not root.is_dir():
        return 0
    removed = 0
    for run in root.glob("run-*"):
        if run.is_dir() and _owner_gone(run):
            shutil.rmtree(run, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %d leftover video upload folder(s) under %s", removed, root)
    return removed


def _owner_gone(run: Path) -> bool:
    lock_path = run / _LOCK
    if not lock_path.exists():
        return time.time() - run.stat().st_mtime > _UNLOCKED_GRACE_S
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its process still holds it
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True
