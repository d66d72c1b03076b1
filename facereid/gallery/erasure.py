"""Erasure that reaches the disk (issue 22; docs/privacy.md).

Chroma's delete only forgets a row: its vector stays in the collection's HNSW file
(``<segment>/data_level0.bin``, marked deleted but not overwritten; an update gives the row a
new slot and leaves the old one as it was), the row's records stay in Chroma's write log
(``embeddings_queue`` in ``chroma.sqlite3``) until the index is next saved, a dropped
collection leaves its segment folder behind, and SQLite keeps deleted rows in free pages until
the file is rewritten. So an erasure of rows of an embedded store (``scrub``), with Chroma's
own client closed so that no copy of the index is left in memory to be saved back:

1. overwrites with zeros the vector of every erased row in every HNSW file, found by the
   label that the index's own id map (``index_metadata.pickle``, saved with the index) gives
   the row's id; a row added after the last save is not in the file at all;
2. deletes the erased rows' add and update records from the write log (their vectors, names
   and metadata); their delete records stay, so the index forgets the rows when Chroma
   replays the log on the next open;
3. ``compact_folder``: removes every segment folder that no segment row of ``chroma.sqlite3``
   refers to, overwrites with zeros the unused capacity of every live HNSW file (hnswlib
   allocates its element array with ``malloc``, not zeroed, and Chroma writes the whole array,
   so a new collection's file can hold bytes of a collection just freed in the same process),
   and runs ``VACUUM`` with ``secure_delete`` on ``chroma.sqlite3``.

Its cost grows with the files' size (one pass over each HNSW file, one rewrite of the
database), not with a rebuild of the graph: ~1 s for one subject in a 100k gallery
(docs/benchmarks.md), against ~180 s for ``rebuild``.

``rebuild`` is the way for a Chroma server (``GALLERY_URI``), whose files this process cannot
scrub, and for an HNSW layout this module does not know: the remaining rows are copied into a
fresh collection that takes over the name, which removes the vectors from the live index; the
server's own folder is compacted only when it is on this host (``GALLERY_SERVER_DATA_DIR``),
else it is the operator's (docs/privacy.md).

The caller holds the store's lock: a write that landed during the erasure would be lost.
"""

from __future__ import annotations

import io
import logging
import pickle
import shutil
import sqlite3
import struct
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.shared_system_client import SharedSystemClient

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
# cur_element_count, size_data_per_element, label_offset, offsetData (chromadb's hnswlib fork,
# persistent index v1). Each element of data_level0.bin is its level-0 links, then the vector
# (float32) from offsetData, then its label (size_t) at label_offset.
_HEADER = struct.Struct("<iQQQQQQ")
_LABEL = 8  # bytes of a label (size_t)
_DELETE = 3  # Chroma's Operation.DELETE in embeddings_queue.operation


class UnknownLayoutError(Exception):
    """An HNSW file this module cannot read: the caller erases by ``rebuild`` instead."""


@dataclass(frozen=True)
class Layout:
    count: int  # elements written (deleted ones included)
    per_element: int
    label_offset: int
    data_offset: int


def layout_of(segment: Path) -> Layout | None:
    """The element layout of a segment's HNSW files; ``None`` where none was saved yet."""
    header, data = segment / "header.bin", segment / "data_level0.bin"
    if not (header.is_file() and data.is_file()):
        return None
    raw = header.read_bytes()
    if len(raw) < _HEADER.size:
        raise UnknownLayoutError(f"{header}: {len(raw)} bytes")
    version, _, _, count, per, label_at, data_at = _HEADER.unpack_from(raw)
    sane = 0 < data_at < label_at and label_at + _LABEL <= per and (label_at - data_at) % 4 == 0
    if version != 1 or not sane or data.stat().st_size < count * per:
        raise UnknownLayoutError(f"{header}: version {version}, element {per} bytes")
    return Layout(count, per, label_at, data_at)


def release(client: ClientAPI) -> bool:
    """Close an embedded client; True when that stopped Chroma in this process (no other
    client of the folder keeps the index in memory, where a later save would restore it)."""
    identifier = getattr(client, "_identifier", None)
    close(client)
    return identifier is not None and identifier not in SharedSystemClient._identifier_to_system


def close(client: ClientAPI) -> None:
    """``Client.close`` (chromadb 1.x; not on the ``ClientAPI`` interface)."""
    getattr(client, "close", lambda: None)()


def scrub(folder: str, erased: Collection[str]) -> int:
    """Steps 1 to 3 above for rows already deleted through Chroma, whose client is closed;
    returns the HNSW elements overwritten. Raises ``UnknownLayoutError`` before writing."""
    root = Path(folder)
    segments = [p for p in root.iterdir() if p.is_dir() and _is_uuid(p.name)]
    found = []  # every file read before any is written
    for segment in segments:
        layout = layout_of(segment)
        if layout is not None and layout.count:
            found.append((segment, layout, _labels(segment / "index_metadata.pickle", erased)))
    zeroed = 0
    for segment, layout, labels in found:
        if labels:
            zeroed += _zero_vectors(segment / "data_level0.bin", layout, labels)
    _drop_log_records(root / "chroma.sqlite3", erased)
    compact_folder(folder)
    return zeroed


class _PlainData(pickle.Unpickler):
    """The id map is dicts, strings and numbers: any class in the file is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise UnknownLayoutError(f"the HNSW id map names {module}.{name}")


def _labels(id_map: Path, erased: Collection[str]) -> list[int]:
    if not id_map.is_file():
        return []
    data = _PlainData(io.BytesIO(id_map.read_bytes())).load()
    if not isinstance(data, dict) or not isinstance(data.get("id_to_label"), dict):
        raise UnknownLayoutError(f"{id_map}: no id_to_label")
    to_label: dict[str, int] = data["id_to_label"]
    return [int(to_label[i]) for i in erased if i in to_label]


def _zero_vectors(data: Path, layout: Layout, labels: list[int]) -> int:
    rows = np.memmap(data, dtype=np.uint8, mode="r+", shape=(layout.count, layout.per_element))
    try:
        label_bytes = rows[:, layout.label_offset : layout.label_offset + _LABEL]
        found = np.flatnonzero(np.isin(label_bytes.copy().view("<u8")[:, 0], labels))
        rows[found, layout.data_offset : layout.label_offset] = 0
        rows.flush()
    finally:
        del rows
    return len(found)


def _drop_log_records(database: Path, erased: Iterable[str]) -> None:
    ids = list(erased)
    connection = sqlite3.connect(database, timeout=30)
    try:
        with connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                connection.execute(
                    f"DELETE FROM embeddings_queue WHERE operation != ? AND id IN ({marks})",
                    [_DELETE, *chunk],
                )
    finally:
        connection.close()


def zero_unused_capacity(segment: Path) -> None:
    """Zero data_level0.bin past the rows the header counts (never-written capacity)."""
    try:
        layout = layout_of(segment)
    except UnknownLayoutError:
        logger.warning("unknown HNSW header layout; its unused capacity is left as it is")
        return
    if layout is None:
        return
    data = segment / "data_level0.bin"
    used, size = layout.count * layout.per_element, data.stat().st_size
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
