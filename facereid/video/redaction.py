"""Video results forget an erased gallery subject; a tenant erase takes the tenant's jobs
(issue 22; docs/privacy.md).

A finished job that searched a gallery names, per identity, the matched ``subject``, its
``gallery_face_id`` and the similarity. When faces of that gallery are erased (a face or
subject delete, a gallery drop, a tenant erase), every stored result of the tenant's that
named one of them is rewritten: those identities lose the subject, the face id and the
similarity, and their ``embedding`` (the erased person's mean face embedding from the video)
is removed; ``redacted`` says so. The job itself stays: its other identities are other
people's results, and deleting the job would take them too.

A tenant erase deletes every job of the tenant instead: its record, its result and its upload
folder; a running one loses its record, so its worker's next heartbeat stops it and its end
finds nothing to write back.

The SQLite job store runs with ``secure_delete`` and its write-ahead log is checkpointed and
truncated after a redaction, so the old result's bytes do not stay in free pages or the log.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from facereid.video.store import JobStore
from facereid.video.uploads import UploadArea, discard_upload

logger = logging.getLogger(__name__)

ERASED_FIELDS = {"subject": None, "gallery_face_id": None, "similarity": None}


def redact_result(result: dict[str, Any], face_ids: Collection[str] | None) -> int:
    """Redact the identities matched to these face ids (``None``: every matched identity);
    returns how many were redacted."""
    redacted = 0
    for identity in result.get("identities") or []:
        face_id = identity.get("gallery_face_id")
        if face_id is None or (face_ids is not None and face_id not in face_ids):
            continue
        identity.update(ERASED_FIELDS)
        identity.pop("embedding", None)
        identity["redacted"] = True
        redacted += 1
    return redacted


def redact_jobs(
    store: JobStore, tenant: str, gallery: str, face_ids: Collection[str] | None
) -> int:
    """Rewrite the tenant's stored results that named erased faces of ``gallery``; returns
    the number of identities redacted."""
    total = 0
    with store.locked():
        for job_id in store.result_ids():
            record = store.load(job_id)
            if record is None or record.tenant != tenant or record.gallery != gallery:
                continue
            result = store.load_result(job_id)
            if result is None:
                continue
            redacted = redact_result(result, face_ids)
            if redacted:
                store.save(record, result)
                total += redacted
    if total:
        store.scrub()
        logger.info("video results redacted: %d identities", total)
    return total


def jobs_naming(store: JobStore, tenant: str, gallery: str, face_ids: Collection[str]) -> list[str]:
    """Ids of the tenant's stored jobs whose results name one of these faces (export)."""
    named = []
    for job_id in store.result_ids():
        record = store.load(job_id)
        if record is None or record.tenant != tenant or record.gallery != gallery:
            continue
        result = store.load_result(job_id) or {}
        if any(i.get("gallery_face_id") in face_ids for i in result.get("identities") or []):
            named.append(job_id)
    return sorted(named)


def delete_tenant_jobs(store: JobStore, area: UploadArea, tenant: str) -> int:
    """Every job of the tenant's, ended or not, with its result and upload folder (found by
    the job's id, not by the path in the record); returns how many."""
    deleted: list[str] = []
    with store.locked():
        for job_id in store.job_ids():
            record = store.load(job_id)
            if record is None or record.tenant != tenant:
                continue
            store.delete(job_id)
            deleted.append(job_id)
        store.forget_tenant(tenant)
    store.scrub()
    for job_id in deleted:
        discard_upload(area.path_of(job_id))
    if deleted:
        logger.info("tenant erase deleted %d video jobs", len(deleted))
    return len(deleted)
