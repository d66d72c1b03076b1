"""Locust headless for a few seconds against the synthetic test server: the scenarios run,
nothing fails, something gets through. A smoke test, not a speed assertion."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT, Server

LOCUST = Path(sys.executable).with_name("locust")
LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"


def _run_locust(host: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "-H", host, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _aggregated(stats_csv: Path) -> dict[str, str]:
    with stats_csv.open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows["Aggregated"]


@pytest.mark.slow
@pytest.mark.parametrize("user_class", ["MixedUser", "GalleryUser"])
def test_locust_runs_without_failures(
    synthetic_server: Server, tmp_path: Path, user_class: str
) -> None:
    prefix = tmp_path / "smoke"
    done = _run_locust(
        synthetic_server.url,
        "-u", "2", "-r", "2", "-t", "6s", "--stop-timeout", "10",
        "--csv", str(prefix), "--gallery-size", "1000",
        user_class,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    total = _aggregated(Path(f"{prefix}_stats.csv"))
    assert int(total["Request Count"]) > 0, done.stderr[-3000:]
    assert int(total["Failure Count"]) == 0, Path(f"{prefix}_failures.csv").read_text()
    assert float(total["Requests/s"]) > 0


def test_locustfile_refuses_other_hosts() -> None:
    done = _run_locust("http://10.1.2.3:3000", "-u", "1", "-t", "2s", "MixedUser", timeout=60)
    assert done.returncode != 0
    assert "refusing to load-test" in done.stderr
