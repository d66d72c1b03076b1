"""HTTP download into the store's tmp area: resumable, verified, never half-written.

The bytes go to ``<dest>.part``; a later call resumes it with an HTTP Range request when the
server allows (206), or starts again (200). Only a complete file whose sha256 matches (when
one is known) is renamed to ``dest``.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import requests

from models import ModelProvisioningError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16  # an interrupted transfer loses at most one chunk
PULL_HINT = "re-run `python -m models pull`"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def _request(url: str, offset: int, timeout_s: float) -> requests.Response:
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        return requests.get(url, headers=headers, stream=True, timeout=timeout_s)
    except requests.RequestException as exc:
        raise ModelProvisioningError(
            f"cannot reach {url} ({type(exc).__name__}); check the network or the base URL "
            f"(--base-url, FACEREID_INSIGHTFACE_BASE_URL, FACEREID_CLIP_BASE_URL) and "
            f"{PULL_HINT}, or use `python -m models import` with local files"
        ) from None


def _open_response(url: str, part: Path, timeout_s: float) -> tuple[requests.Response, int]:
    """A response and the offset its body starts at (0 when the server ignores Range)."""
    offset = part.stat().st_size if part.exists() else 0
    response = _request(url, offset, timeout_s)
    if offset and response.status_code == 416:
        # The partial file is as long as (or longer than) the resource: start again.
        response.close()
        part.unlink()
        offset = 0
        response = _request(url, offset, timeout_s)
    if offset and response.status_code == 206:
        content_range = response.headers.get("Content-Range", "")
        if content_range.startswith(f"bytes {offset}-"):
            logger.info("resuming %s at byte %d", url, offset)
            return response, offset
        response.close()
        part.unlink()
        return _open_response(url, part, timeout_s)
    if response.status_code == 200:
        return response, 0
    response.close()
    raise ModelProvisioningError(
        f"{url} answered HTTP {response.status_code}; check the URL or base URL and {PULL_HINT}"
    )


def download(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    progress: bool = True,
    timeout_s: float = 30.0,
) -> str:
    """Download ``url`` to ``dest`` and return its sha256.

    Raises ModelProvisioningError for an unreachable server, an HTTP error, an interrupted
    transfer (the partial file is kept for resuming) or a checksum mismatch (the file is
    deleted, since resuming it would only repeat the mismatch).
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    response, offset = _open_response(url, part, timeout_s)
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else None
    written = offset
    try:
        with (
            response,
            part.open("ab" if offset else "wb") as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                file=sys.stderr,
                disable=not progress,
            ) as bar,
        ):
            for block in response.iter_content(CHUNK_SIZE):
                out.write(block)
                written += len(block)
                bar.update(len(block))
    except requests.RequestException as exc:
        raise ModelProvisioningError(
            f"download of {url} was interrupted after {written} bytes ({type(exc).__name__}); "
            f"{PULL_HINT} to resume"
        ) from None
    if total is not None and written != total:
        raise ModelProvisioningError(
            f"download of {url} stopped at {written} of {total} bytes; {PULL_HINT} to resume"
        )
    digest = sha256_file(part)
    if expected_sha256 and digest != expected_sha256.lower():
        part.unlink()
        raise ModelProvisioningError(
            f"{dest.name}: sha256 {digest} does not match the expected {expected_sha256}; "
            f"the file or mirror is wrong, {PULL_HINT} from the official URL"
        )
    part.replace(dest)
    return digest
