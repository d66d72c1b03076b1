"""Locust scenarios for the face re-identification API (127.0.0.1 only).

User classes, one per traffic mix (pick with the class name on the command line):

- ``AnalyzeUser``: /analyze only, photos of several sizes and face counts;
- ``MixedUser`` (default): mostly /analyze, some /analyze_batch, /compare, /find_matches;
- ``GalleryUser``: /find_matches against a gallery (``--gallery-size``, float or base64 rows).

Options (or environment): ``--gallery-size`` / ``LOADTEST_GALLERY_SIZE`` (default 1000; 10000
for the large gallery), ``--gallery-encoding`` / ``LOADTEST_GALLERY_ENCODING`` (``float`` or
``base64``). Bodies are serialised once at start, so Locust's own CPU goes to sending.

    locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:3000 -u 8 -r 4 -t 30s MixedUser
"""

from __future__ import annotations

import json
import logging
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from locust import FastHttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests import payloads  # noqa: E402

logger = logging.getLogger("loadtests")
ALLOWED_HOSTS = {"127.0.0.1"}
JSON_HEADERS = {"Content-Type": "application/json"}
# What the service may answer for a photo without a detectable face (synthetic detectors
# find "faces" by chance): counted as a correct answer, not a failure.
NO_FACE = "no_face_detected"


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument(
        "--gallery-size",
        type=int,
        default=int(os.environ.get("LOADTEST_GALLERY_SIZE", "1000")),
        help="rows in the /find_matches gallery (1000 or 10000 are the planned sizes)",
    )
    parser.add_argument(
        "--gallery-encoding",
        choices=["float", "base64"],
        default=os.environ.get("LOADTEST_GALLERY_ENCODING", "float"),
        help="send gallery rows as JSON floats or as one base64 float32 blob",
    )


def check_host(host: str | None) -> None:
    """Refuse any target but 127.0.0.1: this load test is for a local server only."""
    hostname = urlparse(host or "").hostname
    if hostname not in ALLOWED_HOSTS:
        raise SystemExit(f"refusing to load-test {host!r}: only http://127.0.0.1:<port> is allowed")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    check_host(environment.host or getattr(environment.parsed_options, "host", None))


@events.test_start.add_listener
def _build_payloads(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    bodies(
        options.gallery_size if options else 1000, options.gallery_encoding if options else "float"
    )


@lru_cache(maxsize=4)
def bodies(gallery_size: int, gallery_encoding: str) -> dict[str, Any]:
    """Every request body, serialised once."""
    cases = payloads.image_cases()
    gallery = payloads.gallery(gallery_size)
    match = gallery.b64_body() if gallery_encoding == "base64" else gallery.float_body()
    logger.info("payloads built: %d images, gallery %d rows", len(cases), gallery_size)
    return {
        "analyze": [(c.name, json.dumps(payloads.analyze_body(c)).encode()) for c in cases],
        "batch": json.dumps(payloads.batch_body([cases[1], cases[2], cases[3], cases[4]])).encode(),
        "compare": json.dumps(payloads.compare_body()).encode(),
        "find_matches": json.dumps(match).encode(),
    }


class _ApiUser(FastHttpUser):
    abstract = True
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        check_host(self.host)
        options = self.environment.parsed_options
        size = options.gallery_size if options else 1000
        encoding = options.gallery_encoding if options else "float"
        self.bodies = bodies(size, encoding)
        self._next_image = 0
        self._gallery_name = f"/find_matches [{size} rows, {encoding}]"

    def _post(self, path: str, body: bytes, name: str, allow_no_face: bool = False) -> None:
        with self.client.post(
            # bytes: the payload is encoded once; locust's stub says str, geventhttpclient
            # sends bytes as they are
            path,
            data=body,  # type: ignore[arg-type]
            headers=JSON_HEADERS,
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            elif allow_no_face and response.status_code == 422 and NO_FACE in response.text:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    def analyze(self) -> None:
        cases = self.bodies["analyze"]
        name, body = cases[self._next_image % len(cases)]
        self._next_image += 1
        self._post("/analyze", body, f"/analyze [{name}]", allow_no_face=True)

    def analyze_batch(self) -> None:
        self._post("/analyze_batch", self.bodies["batch"], "/analyze_batch [4 images]")

    def compare(self) -> None:
        self._post("/compare", self.bodies["compare"], "/compare")

    def find_matches(self) -> None:
        self._post("/find_matches", self.bodies["find_matches"], self._gallery_name)


class AnalyzeUser(_ApiUser):
    """Only /analyze, cycling through the photos."""

    @task
    def analyze_task(self) -> None:
        self.analyze()


class MixedUser(_ApiUser):
    """A realistic mix: mostly single-image analysis, some batches and matching."""

    @task(16)
    def analyze_task(self) -> None:
        self.analyze()

    @task(2)
    def analyze_batch_task(self) -> None:
        self.analyze_batch()

    @task(3)
    def compare_task(self) -> None:
        self.compare()

    @task(3)
    def find_matches_task(self) -> None:
        self.find_matches()


class GalleryUser(_ApiUser):
    """Re-identification against a gallery: mostly /find_matches, some /compare."""

    @task(8)
    def find_matches_task(self) -> None:
        self.find_matches()

    @task(1)
    def compare_task(self) -> None:
        self.compare()


__all__ = ["AnalyzeUser", "GalleryUser", "MixedUser", "check_host"]
