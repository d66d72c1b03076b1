"""The repeated-image cache: keys, the diskcache backend (TTL, size, purge), fresh ids, and
the encoded /analyze composition answering from it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facereid.analysis import analyze
from facereid.analysis.cache import (
    AnalysisCache,
    DiskBackend,
    RedisBackend,
    build_backend,
    cacheable,
    fresh_ids,
    main,
)
from facereid.config import Settings
from facereid.faces.records import FaceRecord
from tests.unit.facereid.analysis.fakes import IMG, FakeEmotions, FakeFaces, model_info

MODEL = model_info("insightface", "buffalo_l", 512, source="pulled", tag="pack:abc")
OPTIONS = analyze.AnalyzeOptions()


def cache_at(tmp_path: Path, **settings: Any) -> AnalysisCache:
    s = Settings(data_dir=str(tmp_path), **settings)
    return AnalysisCache(s, DiskBackend(tmp_path / "cache", s.analysis_cache_max_bytes))


def key(cache: AnalysisCache, raw: bytes = b"img", **changes: Any) -> str:
    args: dict[str, Any] = {"tenant": "t1", "model": MODEL, "options": OPTIONS, **changes}
    return cache.key(raw, **args)


def test_keys_separate_images_tenants_models_and_options(tmp_path: Path) -> None:
    cache = cache_at(tmp_path)
    base = key(cache)
    assert key(cache) == base  # deterministic
    variants = [
        key(cache, b"img2"),
        key(cache, tenant="t2"),
        key(cache, model=MODEL.model_copy(update={"tag": "pack:def"})),
        key(cache, model=MODEL.model_copy(update={"embedding_model": "dlib/resnet/128"})),
        key(cache, options=analyze.AnalyzeOptions(return_all_faces=True)),
        key(cache, options=analyze.AnalyzeOptions(include_emotions=False)),
        key(cache, options=analyze.AnalyzeOptions(emotion_labels=["calm"])),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    other_clip = cache_at(tmp_path, clip_model_tag="other-clip:1")
    assert key(other_clip) != base  # a new CLIP model does not read old emotions
    assert key(other_clip, options=analyze.AnalyzeOptions(include_emotions=False)) == key(
        cache, options=analyze.AnalyzeOptions(include_emotions=False)
    )  # ... and does not matter without emotions


def test_keys_follow_the_emotion_services_model(tmp_path: Path) -> None:
    """The tag the emotion service reports (CLIP or fer, and its version) is in the key."""
    cache = cache_at(tmp_path)
    fer, clip = (key(cache, emotion_model=tag) for tag in ("facereid-fer:a", "facereid-clip:b"))
    assert len({fer, clip, key(cache, emotion_model="facereid-fer:c")}) == 3
    plain = analyze.AnalyzeOptions(include_emotions=False)
    assert key(cache, options=plain, emotion_model="facereid-fer:a") == key(
        cache, options=plain, emotion_model="facereid-clip:b"
    )


def test_keys_follow_every_detector_setting(tmp_path: Path) -> None:
    """Issue 21: DLIB_DETECTOR / DLIB_UPSAMPLE were left out, so a restart with another
    detector answered the old detector's faces from the cache."""
    base = key(cache_at(tmp_path))
    for change in ({"dlib_detector": "cnn"}, {"dlib_upsample": 2}, {"det_thresh": 0.6}):
        assert key(cache_at(tmp_path, **change)) != base, change


def test_expired_entries_leave_the_disk_without_a_later_write(tmp_path: Path) -> None:
    """Issue 21: diskcache culls expired entries only on a write; the sweep removes them, and
    secure_delete leaves no copy of the value in SQLite's free pages."""
    marker = b"EMBEDDING-BYTES-" + bytes(range(32)) * 4

    def on_disk() -> bool:
        return any(marker in f.read_bytes() for f in (tmp_path / "c").rglob("*") if f.is_file())

    async def scenario() -> None:
        backend = DiskBackend(tmp_path / "c", 8 * 1024 * 1024)
        await backend.set("k", marker, 0.05)
        assert on_disk()
        await asyncio.sleep(0.2)
        assert await backend.sweep() == 1
        backend.cache.close()  # checkpoint SQLite's write-ahead log into the file

    asyncio.run(scenario())
    assert not on_disk()


def test_disk_backend_round_trip_ttl_and_purge(tmp_path: Path) -> None:
    async def scenario() -> None:
        backend = DiskBackend(tmp_path / "c", 8 * 1024 * 1024)
        await backend.set("a", b"one", 60)
        await backend.set("b", b"two", 0.05)
        assert await backend.get("a") == b"one"
        await asyncio.sleep(0.2)
        assert await backend.get("b") is None  # expired
        assert await backend.purge() >= 1
        assert await backend.get("a") is None

    asyncio.run(scenario())


def test_off_switch_gives_no_cache() -> None:
    assert AnalysisCache.from_settings(Settings(analysis_cache=False)) is None
    assert AnalysisCache.from_settings(Settings(analysis_cache=True)) is not None


def test_redis_url_selects_the_redis_backend(tmp_path: Path) -> None:
    redis_settings = Settings(analysis_cache_url="redis://127.0.0.1:1/0")
    assert isinstance(build_backend(redis_settings), RedisBackend)
    assert isinstance(build_backend(Settings(data_dir=str(tmp_path))), DiskBackend)


def test_a_broken_backend_is_a_miss_not_an_error() -> None:
    class Broken:
        async def get(self, key: str) -> bytes | None:
            raise ConnectionError("down")

        async def set(self, key: str, value: bytes, ttl_s: float) -> None:
            raise ConnectionError("down")

        async def purge(self) -> int:
            return 0

        async def sweep(self) -> int:
            raise ConnectionError("down")

        async def evict(self, tag: str) -> int:
            raise ConnectionError("down")

    cache = AnalysisCache(Settings(), Broken())
    assert asyncio.run(cache.get("k")) is None
    asyncio.run(cache.set("k", {"a": 1}))  # no exception


def test_fresh_ids_renew_face_ids_and_keep_the_primary_first() -> None:
    face = {"face_id": "old", "timestamp": "then", "bbox": [1, 2, 3, 4]}
    result = {**face, "num_faces": 2, "faces": [dict(face), {**face, "face_id": "old2"}]}
    fresh = fresh_ids(result)
    ids = [f["face_id"] for f in fresh["faces"]]
    assert "old" not in ids and "old2" not in ids and len(set(ids)) == 2
    assert fresh["face_id"] == ids[0] and fresh["timestamp"] != "then"
    assert fresh["bbox"] == [1, 2, 3, 4]


def test_degraded_emotions_are_not_stored() -> None:
    assert not cacheable({"emotions": None}, OPTIONS)
    assert cacheable({"emotions": None}, analyze.AnalyzeOptions(include_emotions=False))
    both = {"faces": [{"emotions": {"happy": 1.0}}, {"emotions": None}]}
    assert cacheable(both, analyze.AnalyzeOptions(return_all_faces=True))


def analyzer(cache: AnalysisCache | None) -> tuple[analyze.Analyzer, FakeFaces, FakeEmotions]:
    """The served /analyze path on fakes of the typed clients, with ``cache``."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=512).astype(np.float32)
    faces = FakeFaces([FaceRecord((10.0, 20.0, 110.0, 140.0), 0.9, emb / np.linalg.norm(emb))])
    emotions = FakeEmotions()
    return analyze.Analyzer(Settings(), faces, emotions, cache), faces, emotions


def test_a_repeated_image_answers_from_the_cache_identically(tmp_path: Path) -> None:
    served, faces, _ = analyzer(cache_at(tmp_path))
    options = analyze.AnalyzeOptions(return_all_faces=True)

    async def scenario() -> list[dict[str, Any]]:
        first = await served.analyze(IMG, options, "t1")
        second = await served.analyze(IMG, options, "t1")
        other_tenant = await served.analyze(IMG, options, "t2")
        return [first, second, other_tenant]

    first, second, _ = asyncio.run(scenario())
    assert len(faces.seen) == 2  # the repeat was a hit; the other tenant was a miss

    def without_ids(result: dict[str, Any]) -> dict[str, Any]:
        drop = ("face_id", "timestamp")
        out = {k: v for k, v in result.items() if k not in drop}
        out["faces"] = [{k: v for k, v in f.items() if k not in drop} for f in result["faces"]]
        return out

    assert without_ids(second) == without_ids(first)
    assert second["face_id"] != first["face_id"]
    assert second["face_id"] == second["faces"][0]["face_id"]


def test_no_cache_means_every_request_runs_the_models() -> None:
    served, faces, _ = analyzer(None)
    for _ in range(2):
        asyncio.run(served.analyze(IMG, OPTIONS, "t1"))
    assert len(faces.seen) == 2


def test_purge_cli_empties_the_host_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from facereid.config import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        backend = DiskBackend(tmp_path / "analysis-cache", 8 * 1024 * 1024)
        asyncio.run(backend.set("x", b"v", 60))
        assert main(["purge"]) == 0
        assert "removed 1" in capsys.readouterr().out
        assert asyncio.run(backend.get("x")) is None
    finally:
        get_settings.cache_clear()


def test_ttl_expiry_through_the_cache(tmp_path: Path) -> None:
    cache = cache_at(tmp_path, analysis_cache_ttl_s=0.05)

    async def scenario() -> tuple[Any, Any]:
        await cache.set("k", {"face_id": "x", "timestamp": "t"})
        hit = await cache.get("k")
        time.sleep(0.2)
        return hit, await cache.get("k")

    hit, expired = asyncio.run(scenario())
    assert hit is not None and expired is None


def test_while_clip_is_down_the_cache_does_not_answer_with_old_emotions(tmp_path: Path) -> None:
    served, faces, emotions = analyzer(cache_at(tmp_path))

    async def scenario() -> list[dict[str, Any]]:
        before = await served.analyze(IMG, OPTIONS, "t1")
        emotions.mode = "down"
        during = await served.analyze(IMG, OPTIONS, "t1")
        emotions.mode = "ok"
        after = await served.analyze(IMG, OPTIONS, "t1")
        return [before, during, after]

    before, during, after = asyncio.run(scenario())
    assert during["emotions"] is None  # as a fresh answer is while CLIP is down
    assert after["emotions"] == before["emotions"]
    assert len(faces.seen) == 2  # the degraded answer was computed, not stored; then a hit


async def tenant_entries(cache: AnalysisCache, marker: bytes) -> dict[str, str]:
    """One entry per tenant, each value carrying ``marker`` and the tenant."""
    keys = {tenant: key(cache, tenant=tenant) for tenant in ("t1", "t2")}
    for tenant, k in keys.items():
        await cache.set(k, {"face_id": "f", "note": (marker + tenant.encode()).hex()})
    return keys


def test_tenant_erase_removes_its_entries_from_the_disk(tmp_path: Path) -> None:
    """Issue 22: a tenant erase finds the tenant's entries by their tag (keys are digests)
    and no file of the cache holds their values afterwards; other tenants keep theirs."""
    cache = cache_at(tmp_path)
    marker = b"ERASE-ME-" + bytes(range(40))
    needle = (marker + b"t1").hex().encode()

    def on_disk() -> bool:
        files = (tmp_path / "cache").rglob("*")
        return any(needle in f.read_bytes() for f in files if f.is_file())

    async def scenario() -> None:
        keys = await tenant_entries(cache, marker)
        assert on_disk()  # the test can fail
        assert await cache.erase_tenant("t1") == 1
        assert await cache.get(keys["t1"]) is None
        assert await cache.get(keys["t2"]) is not None

    asyncio.run(scenario())
    assert isinstance(cache.backend, DiskBackend)
    cache.backend.cache.close()
    assert not on_disk()


def test_tenant_erase_reaches_redis(tmp_path: Path) -> None:
    from tests.redis_helper import redis_server

    async def scenario(url: str) -> None:
        backend = RedisBackend(url)
        cache = AnalysisCache(Settings(data_dir=str(tmp_path)), backend)
        keys = await tenant_entries(cache, b"ERASE-ME")
        assert await cache.erase_tenant("t1") == 1
        assert await cache.get(keys["t1"]) is None
        assert await cache.get(keys["t2"]) is not None
        stored = [k async for k in backend.client.scan_iter(match="facereid:*")]
        assert stored == [f"facereid:analysis:{keys['t2']}".encode()]
        await backend.client.aclose()

    with redis_server() as url:
        asyncio.run(scenario(url))
