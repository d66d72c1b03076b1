"""Erasure that reaches the disk (issue 22; docs/privacy.md).

Chroma's delete only forgets a row: its vector stays in the collection's HNSW file
(``<segment>/data_level0.bin``, marked deleted but not overwritten), a dropped collection
leaves its segment folder behind, and SQLite keeps deleted rows (the write queue, the
metadata) in free pages until the file is rewritten. So an erasure here:

1. rebuilds the affected collection: the remaining rows are copied into a fresh collection,
   the old one is deleted and the fresh one takes its name (face ids, metadata and the
   gallery's own metadata are kept; the HNSW graph is built anew from the remaining vectors);
2. removes every segment folder that no segment row of ``chroma.sqlite3`` refers to;
3. overwrites with zeros the unused capacity of every live HNSW file: hnswlib allocates its
   element array with ``malloc`` (not zeroed) for ``max_elements`` rows and Chroma writes the
   whole array, so a new collection's ``data_level0.bin`` can hold bytes of a collection just
   freed in the same process (seen in tests/unit/facereid/gallery/test_erasure.py);
4. runs ``VACUUM`` on ``chroma.sqlite3``, which writes the database anew without its free
   pages (the file is in rollback-journal mode, so there is no write-ahead log to checkpoint;
   a ``-wal`` file, if present, is truncated too).

Steps 2 to 4 need the folder, so they run for an embedded store only; with a Chroma server
(``GALLERY_URI``) the rebuild still removes the vectors from the collection's live index, and
the server's own folder is the operator's to compact (docs/privacy.md).

The caller holds the store's lock: a write that landed in the old collection during the copy
would be lost (an enrolment) or brought back (a delete).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import struct
import uuid
from pathlib import Path
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration

logger = logging.getLogger(__name__)

_PAGE = 5_000


def rebuild(client: ClientAPI, name: str, hnsw: CreateHNSWConfiguration) -> int:
    """Copy the collection's rows into a fresh one that takes over its name; returns rows."""
    old = client.get_collection(name, embedding_function=None)
    fresh = client.create_collection(
        f"{name}-r{uuid.uuid4().hex[:12]}",
        configuration={"hnsw": hnsw},
        metadata=old.metadata,
        embedding_function=None,
    )
    copied = 0
    try:
        while True:
            got = old.get(limit=_PAGE, offset=copied, include=["embeddings", "metadatas"])
            if not got["ids"]:
                break
            fresh.add(ids=got["ids"], embeddings=got["embeddings"], metadatas=got["metadatas"])
            copied += len(got["ids"])
    except Exception:
        client.delete_collection(fresh.name)  # the old collection is untouched
        raise
    client.delete_collection(name)
    fresh.modify(name=name)
    return copied


def compact_folder(folder: str | None) -> dict[str, Any]:
    """Remove unreferenced segment folders and rewrite chroma.sqlite3 without free pages."""
    if folder is None:
        return {"orphans": 0}
    root = Path(folder)
    database = root / "chroma.sqlite3"
    if not database.exists():
        return {"orphans": 0}
    connection = sqlite3.connect(database, timeout=30)
    try:
        live = {str(row[0]) for row in connection.execute("SELECT id FROM segments")}
        orphans = [
            path
            for path in root.iterdir()
            if path.is_dir() and _is_uuid(path.name) and path.name not in live
        ]
        for path in orphans:
            shutil.rmtree(path, ignore_errors=True)
        for name in live:
            zero_unused_capacity(root / name)
        connection.execute("PRAGMA secure_delete = ON")
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return {"orphans": len(orphans)}


# Chroma's persistent hnswlib header.bin: int32 version, then size_t offsetLevel0, max_elements,
# cur_element_count, size_data_per_element (chromadb's hnswlib fork, persistent index v1)
_HEADER = struct.Struct("<iQQQQ")


def zero_unused_capacity(segment: Path) -> None:
    """Zero data_level0.bin past the rows the header counts (never-written capacity)."""
    header, data = segment / "header.bin", segment / "data_level0.bin"
    if not (header.is_file() and data.is_file()):
        return
    raw = header.read_bytes()
    if len(raw) < _HEADER.size:
        return
    version, _, _, count, per_element = _HEADER.unpack_from(raw)
    if version != 1 or per_element <= 0:
        logger.warning("unknown HNSW header layout; its unused capacity is left as it is")
        return
    used, size = count * per_element, data.stat().st_size
    if used >= size:
        return
    with data.open("r+b") as handle:
        handle.seek(used)
        remaining = size - used
        while remaining:
            step = min(remaining, 1 << 20)
            handle.write(bytes(step))
            remaining -= step


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
