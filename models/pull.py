"""HTTP download into the store's tmp area: resumable, verified, never half-written.

The bytes go to ``<dest>.part``; a later call resumes it with an HTTP Range request when the
server allows (206), or starts again (200). Only a complete file whose sha256 matches (when
one is known) is renamed to ``dest``.

Supply-chain guards (docs/security.md): only ``https://`` URLs unless the caller
explicitly allows ``http://`` for a local mirror (a redirect may not downgrade either); a
download over ``max_bytes`` is refused (declared length first, then counted); and a ``.part``
remembers the URL it came from (``<dest>.part.url``), so a partial file is only resumed from
the same URL, never glued onto the bytes of another one.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

import requests

from models import ModelProvisioningError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16  # an interrupted transfer loses at most one chunk
PULL_HINT = "re-run `python -m models pull`"
# The largest known artefacts are ~0.4 GB (antelopev2.zip) and ~3.9 GB (open_clip ViT-H-14).
DEFAULT_MAX_DOWNLOAD_BYTES = 4 * 1024**3


def check_url(url: str, *, allow_http: bool) -> None:
    """https only; http only when the caller explicitly allows it (a local mirror)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    if scheme == "http":
        raise ModelProvisioningError(
            f"{url[:200]}: plain http is refused (models would be fetched unauthenticated); use "
            f"https, or pass --allow-http for a trusted local mirror"
        )
    raise ModelProvisioningError(f"{url[:200]}: only https:// URLs are downloaded")


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


def _url_file(part: Path) -> Path:
    return part.with_name(part.name + ".url")


def _forget_stale_part(url: str, part: Path) -> None:
    """A partial file from another URL (or of unknown origin) is deleted, not resumed."""
    url_file = _url_file(part)
    recorded = url_file.read_text(encoding="utf-8") if url_file.is_file() else None
    if part.exists() and recorded != url:
        logger.info("discarding %s: it was downloaded from another URL", part.name)
        part.unlink()
    url_file.write_text(url, encoding="utf-8")


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
    allow_http: bool = False,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
) -> str:
    """Download ``url`` to ``dest`` and return its sha256.

    Raises ModelProvisioningError for a refused URL scheme, an unreachable server, an HTTP
    error, a file over ``max_bytes``, an interrupted transfer (the partial file is kept for
    resuming) or a checksum mismatch (the file is deleted, since resuming it would only
    repeat the mismatch).
    """
    from tqdm import tqdm

    check_url(url, allow_http=allow_http)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _forget_stale_part(url, part)
    response, offset = _open_response(url, part, timeout_s)
    try:
        check_url(response.url or url, allow_http=allow_http)  # after redirects
    except ModelProvisioningError:
        response.close()
        raise
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else None
    if total is not None and total > max_bytes:
        response.close()
        _discard(part)
        raise _too_large(url, max_bytes)
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
                written += len(block)
                if written > max_bytes:  # a server that lies about (or omits) its length
                    break
                out.write(block)
                bar.update(len(block))
    except requests.RequestException as exc:
        raise ModelProvisioningError(
            f"download of {url} was interrupted after {written} bytes ({type(exc).__name__}); "
            f"{PULL_HINT} to resume"
        ) from None
    if written > max_bytes:
        _discard(part)
        raise _too_large(url, max_bytes)
    if total is not None and written != total:
        raise ModelProvisioningError(
            f"download of {url} stopped at {written} of {total} bytes; {PULL_HINT} to resume"
        )
    digest = sha256_file(part)
    if expected_sha256 and digest != expected_sha256.lower():
        _discard(part)
        raise ModelProvisioningError(
            f"{dest.name}: sha256 {digest} does not match the expected {expected_sha256}; "
            f"the file or mirror is wrong, {PULL_HINT} from the official URL"
        )
    part.replace(dest)
    _url_file(part).unlink(missing_ok=True)
    return digest


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _url_file(part).unlink(missing_ok=True)


def _too_large(url: str, max_bytes: int) -> ModelProvisioningError:
    return ModelProvisioningError(
        f"{url[:200]} is larger than the download limit of {max_bytes} bytes; raise it with "
        f"--max-download-mb if the file is genuinely that large"
    )
