"""The upload folder: fixed names, and leftovers of dead processes swept at start, never the
uploads of a live server sharing the folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from facereid.video.uploads import UploadArea, discard_upload, sweep_stale_runs


def test_uploads_get_a_fixed_name_in_a_folder_of_their_own(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads")
    sent = tmp_path / "evil.m3u8"
    sent.write_bytes(b"data")
    stored = area.take(sent, 100)
    assert stored.name == "upload" and stored.read_bytes() == b"data"
    assert stored.parent.parent == area.folder()
    discard_upload(stored)
    assert not stored.parent.exists()


def test_a_dead_servers_uploads_are_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    # A server that took an upload and was killed: its run folder is left behind.
    script = (
        "import sys; from pathlib import Path; from facereid.video.uploads import UploadArea;"
        "a = UploadArea(Path(sys.argv[1])); p = Path(sys.argv[1]).parent / 'v';"
        "p.write_bytes(b'x'); print(a.take(p, 10))"
    )
    dead = Path(
        subprocess.run(
            [sys.executable, "-c", script, str(root)], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    assert dead.exists()
    live = UploadArea(root)  # starting: sweeps the dead one
    assert live.swept == 1 and not dead.exists()
    (tmp_path / "w").write_bytes(b"y")
    kept = live.take(tmp_path / "w", 10)
    assert sweep_stale_runs(root) == 0  # another server starting now leaves ours alone
    assert kept.exists()
