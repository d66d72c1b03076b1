"""Erasure reaches a Chroma server's disk (issue 22): the store talks to ``chroma run`` by URI
and, given the server's data folder (GALLERY_SERVER_DATA_DIR: the server runs on this host),
a subject delete, a drop, a tenant erase and a retention expiry leave no file in that folder
holding the erased vector, name or metadata. One server for the module; each case has its own
tenant."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facereid.gallery.chroma import connect
from facereid.gallery.store import GalleryStore
from tests.harness import free_port
from tests.unit.facereid.gallery.test_erasure import chunks, files_holding, hnsw_copy, unit

pytestmark = pytest.mark.slow

MODEL = "test/server/512"
NAME = "Jane Q Public"
SECRET = "passport-S7654321"
OTHERS = 1_200  # past Chroma's sync threshold: the vectors reach the HNSW files


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = root / "chroma.log"
    command = [str(chroma), "run", "--path", str(root / "data"), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            connect(uri).heartbeat()
            break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(log.read_text())
            time.sleep(0.5)
    yield uri, root / "data"
    process.terminate()
    process.wait(timeout=30)


def erase_subject(store: GalleryStore, tenant: str) -> None:
    assert len(store.delete_faces(tenant, "g", store.face_ids(tenant, "g", NAME))) == 1
    assert store.count(tenant, "g") == OTHERS


def drop(store: GalleryStore, tenant: str) -> None:
    assert store.drop(tenant, "g") == OTHERS + 1


def erase_tenant(store: GalleryStore, tenant: str) -> None:
    assert store.erase_tenant(tenant) == {"galleries": 1, "faces": OTHERS + 1}


def expire(store: GalleryStore, tenant: str) -> None:
    """Retention: the known face's enrolment is moved 31 days back; a 30-day sweep erases it
    by the same path as a delete (the other tenants of the module have no old faces)."""
    (face_id,) = store.face_ids(tenant, "g", NAME)
    month_ago = int(time.time() * 1000) - 31 * 86_400_000
    store._collection(tenant, "g").update(ids=[face_id], metadatas=[{"created_at": month_ago}])
    assert store.expire(int(time.time() * 1000), default_days=30) == 1
    assert store.count(tenant, "g") == OTHERS


@pytest.mark.parametrize("erase", [erase_subject, drop, erase_tenant, expire])
def test_no_byte_stays_in_the_servers_folder(
    server: tuple[str, Path], erase: Callable[[GalleryStore, str], None]
) -> None:
    uri, folder = server
    store = GalleryStore(uri, dim=512, server_folder=str(folder))
    tenant = f"t-{erase.__name__}"
    rng = np.random.default_rng(len(tenant))
    known = unit(rng.normal(size=(1, 512)))
    store.enroll(tenant, "g", MODEL, known, [NAME], [{"doc": SECRET}], ["src"])
    others = unit(rng.normal(size=(OTHERS, 512)))
    store.enroll(tenant, "g", MODEL, others, ["o"] * OTHERS, [{}] * OTHERS, ["o"] * OTHERS)
    needles = {
        "vector": chunks(known.tobytes()),
        "hnsw": chunks(hnsw_copy(folder, known[0])),
        "name": [NAME.encode()],
        "meta": [SECRET.encode()],
    }
    assert {what for what, _ in files_holding(folder, needles)} >= {"hnsw", "name", "meta"}
    erase(store, tenant)
    assert files_holding(folder, needles) == set()
