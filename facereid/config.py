"""All settings in one place, read from the environment once.

Names follow the seed where it names them (``MODEL_PATH``, ``CLIP_SERVICE_URL``); the rest
are documented in ``docs/operations.md``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMOTION_LABELS = ("happy", "sad", "angry", "surprised", "fearful", "disgusted", "neutral")

# Model names in the BentoML store. `python -m models pull|import|synth` write these names and
# the services look them up, so a synthetic pack stands in for a real one without code changes.
FACE_MODEL_NAME = "facereid-insightface"
CLIP_MODEL_NAME = "facereid-clip"
FER_MODEL_NAME = "facereid-fer"  # fer's mini-Xception, converted offline (models/fer.py)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # Models
    model_path: str = Field(default="./models", description="Folder of an InsightFace pack")
    face_engine: Literal["auto", "insightface", "dlib"] = "auto"
    face_model_tag: str = f"{FACE_MODEL_NAME}:latest"
    clip_model_tag: str = f"{CLIP_MODEL_NAME}:latest"
    fer_model_tag: str = f"{FER_MODEL_NAME}:latest"
    # auto: CLIP when a facereid-clip model is in the store, else fer (docs/emotions.md)
    emotion_engine: Literal["auto", "clip", "fer"] = "auto"
    clip_service_url: str | None = None
    clip_timeout_s: float = Field(default=5.0, gt=0, le=3600)
    clip_health_interval_s: float = Field(default=5.0, gt=0, le=3600)
    face_timeout_s: float = Field(default=60.0, gt=0, le=3600)

    # Limits from the seed
    max_image_side: int = Field(default=4096, ge=1, le=65_535)
    # JPEGs up to this many px per side are accepted when their reduced (draft) decode fits
    # MAX_IMAGE_SIDE and MAX_IMAGE_PIXELS: phone photos (issue 23, docs/security.md)
    max_jpeg_side: int = Field(default=12_000, ge=1, le=65_535)
    min_face_size: int = Field(default=20, ge=0, le=65_535)
    max_faces: int = Field(default=32, ge=0, le=1024)
    max_batch_images: int = Field(default=32, ge=1, le=1024)
    max_image_pixels: int = Field(default=4096 * 4096, ge=1, le=1 << 32)
    max_gallery_rows: int = Field(default=100_000, ge=1, le=10_000_000)

    # Detection
    det_thresh: float = Field(default=0.5, ge=0, le=1)
    nms_thresh: float = Field(default=0.4, ge=0, le=1)
    det_size: int = Field(default=640, ge=32, le=4096, multiple_of=32)
    dlib_detector: Literal["hog", "cnn"] = "hog"
    dlib_upsample: int = Field(default=1, ge=0, le=4)

    # Emotions
    emotion_labels: tuple[str, ...] = DEFAULT_EMOTION_LABELS
    emotion_crop_margin: float = Field(default=0.25, ge=0, le=4)
    # threads that resize a batch's crops for CLIP side by side; 0 = auto (cores, at most 8)
    clip_preprocess_threads: int = Field(default=0, ge=0, le=64)

    # Protection and operations (facereid/web/chain.py; docs/operations.md, docs/security.md)
    rate_limit: str = ""  # e.g. "120/minute"; empty: no global limit
    rate_limits: dict[str, str] = Field(default_factory=dict)  # per path, JSON
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = (
        "moving-window"
    )
    rate_limit_storage_uri: str = "memory://"  # redis://host:6379/0 shares one budget
    rate_limit_exempt_paths: str = "/health,/livez,/healthz,/readyz,/metrics"
    trusted_proxies: str = ""  # IPs/CIDRs whose X-Forwarded-For is believed
    api_keys: str = Field(default="", repr=False)  # comma-separated keys
    api_keys_file: str | None = None  # per line: sha256 hex digest [tenant]
    auth_exempt_paths: str = "/health,/livez,/healthz,/readyz,/metrics"
    max_request_bytes: int = Field(default=68 * 1024 * 1024, ge=1, le=1 << 34)
    cors_allow_origins: str = ""  # comma-separated; "*" for any; empty: CORS off
    cors_allow_credentials: bool = False
    cors_max_age_s: int = Field(default=600, ge=0, le=604_800)
    behind_tls: bool = False  # adds Strict-Transport-Security
    hsts_max_age_s: int = Field(default=31_536_000, ge=0, le=63_072_000)
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    # Web protection (issue 12; facereid/web/, docs/security.md): auth mode and tenants,
    # failed-login budget, rate-limit store bounds, in-process traffic limits, /metrics access.
    # auto: keys on when API_KEYS/API_KEYS_FILE are set (a set source without keys refuses to
    # start); required: refuse to start without keys; off: explicitly open, one shared tenant.
    auth: Literal["auto", "required", "off"] = "auto"
    failed_auth_limit: str = "20/minute"  # 401s per client address; empty: not limited
    # per store call; a slower store is skipped
    rate_limit_store_timeout_s: float = Field(default=0.25, gt=0, le=60)
    # consecutive store failures that open the breaker
    rate_limit_breaker_failures: int = Field(default=3, ge=1, le=1000)
    # open breaker: store skipped this long
    rate_limit_breaker_reset_s: float = Field(default=30.0, gt=0, le=3600)
    # requests in flight in the API process; more: 503 overloaded
    max_concurrency: int = Field(default=256, ge=1, le=100_000)
    # a request still running after this: 504 timeout
    request_timeout_s: float = Field(default=110.0, gt=0, le=86_400)
    metrics_require_key: bool = False  # true: /metrics needs a key like any route

    # Runtime
    ort_intra_op_threads: int = Field(default=0, ge=0, le=1024)  # 0: let ONNX Runtime decide
    torch_threads: int = Field(default=0, ge=0, le=1024)

    # Intake limits: decode budget, body caps per route, embedding sizes (issue 12,
    # docs/security.md)
    # longest embedding /compare and /find_matches accept
    max_embedding_dim: int = Field(default=4096, ge=1, le=65_536)
    # /find_matches rows x dim
    max_match_values: int = Field(default=100_000 * 512, ge=1, le=1 << 34)
    # JSON, path -> bytes
    route_max_bytes: dict[str, Annotated[int, Field(ge=1, le=1 << 34)]] = Field(
        default_factory=dict
    )
    # decoded pixels per /analyze_batch request
    max_batch_pixels: int = Field(default=8 * 4096 * 4096, ge=1, le=1 << 36)
    # full-size image decodes at once, per API process
    max_concurrent_decodes: int = Field(default=2, ge=1, le=1024)
    # longer images are downscaled before the face service
    max_ship_side: int = Field(default=1920, ge=32, le=65_535)

    # Video re-identification (issue 8, docs/video.md)
    video_sample_fps: float = Field(default=2.0, gt=0, le=240)
    # keep under MAX_REQUEST_BYTES
    video_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1, le=1 << 40)
    video_max_seconds: float = Field(default=600.0, gt=0, le=86_400)
    video_max_side: int = Field(default=3840, ge=16, le=16_384)  # larger frames are rejected
    # larger frames are downscaled before detection
    video_process_side: int = Field(default=640, ge=32, le=16_384)
    video_result_ttl_s: float = Field(default=3600.0, gt=0, le=2_592_000)
    video_max_jobs: int = Field(default=16, ge=1, le=100_000)  # queued + running jobs held at once
    video_concurrent_jobs: int = Field(default=1, ge=1, le=64)
    # frames sent to the face service concurrently
    video_chunk_frames: int = Field(default=8, ge=1, le=1024)
    # how long a lost track may be re-found by motion
    video_track_lost_s: float = Field(default=1.0, ge=0, le=3600)
    # None: per embedding model (dlib 0.91)
    video_identity_threshold: float | None = Field(default=None, ge=-1, le=1)

    # Video safety (issue 12, docs/video.md, docs/security.md)
    data_dir: str = "./data"  # the service's own files; video uploads under video-uploads/
    # decoded frames per video (600 s at 166 fps)
    video_max_frames: int = Field(default=100_000, ge=1, le=100_000_000)
    # wall time in the decoder per pass over a video
    video_max_decode_s: float = Field(default=600.0, gt=0, le=86_400)
    # face tracks per job; more fail it (video_too_complex)
    video_max_tracks: int = Field(default=5_000, ge=1, le=1_000_000)
    # queued + running jobs of one tenant
    video_max_jobs_per_tenant: int = Field(default=4, ge=1, le=100_000)

    # Durable video jobs and shared state (issue 14, docs/video.md "Durable jobs")
    job_store_url: str = ""  # "": SQLite (WAL) at DATA_DIR/jobs.sqlite3; redis://host:6379/0
    job_store_prefix: str = "facereid:video:"  # Redis key prefix
    video_job_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)  # a dead worker's hold
    video_job_heartbeat_s: float = Field(default=1.0, gt=0, le=60.0)  # renew + cancel check
    video_job_poll_s: float = Field(default=1.0, gt=0, le=60.0)  # idle look for queued jobs
    video_job_max_attempts: int = Field(default=2, ge=1, le=10)  # then failed worker_lost
    api_workers: int = Field(default=1, ge=1, le=64)  # BentoML workers of the API service

    # Serving path and repeated-image cache (issue 15, docs/benchmarks.md, docs/operations.md)
    face_service_threads: int = Field(default=1, ge=1, le=64)  # concurrent batches per worker
    # Face service processes; 0 = auto: 1 with a CUDA provider (one CUDA context per GPU),
    # else 2 (BentoML runs one batch at a time per worker). runners/face.py, docs/benchmarks.md
    face_service_workers: int = Field(default=0, ge=0, le=64)
    face_decode_threads: int = Field(default=2, ge=1, le=64)  # image decodes in the face service
    # A batch split into this many groups, each decoded, detected and embedded on its own
    # decode thread (CPU inference: one ONNX Runtime thread per group keeps every core busy).
    # 0 = auto: 1 on a GPU or with dlib (one batched call is the point there), else
    # min(FACE_DECODE_THREADS, cores). docs/benchmarks.md
    face_batch_groups: int = Field(default=0, ge=0, le=64)
    analysis_cache: bool = True  # ANALYSIS_CACHE=0: every request runs the models
    analysis_cache_url: str | None = None  # redis://...: one cache for all replicas
    analysis_cache_ttl_s: float = Field(default=300.0, gt=0, le=86_400)  # biometric: short
    analysis_cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, le=1 << 40)

    # Models that arrive on their own (issue 16 part 1: `python -m models ensure`, docs/models.md)
    models_auto_pull: bool = True  # MODELS_AUTO_PULL=0: never download at start
    models_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)  # no network: seconds
    models_pull_args: str = ""  # extra `python -m models pull` options, e.g. "--allow-http"
    bento_path: str | None = None  # set by BentoML images: the Bento's packed models count

    # Galleries (issue 13, docs/gallery.md)
    # (DATA_DIR above: embedded Chroma keeps the gallery store in DATA_DIR/gallery.chroma)
    gallery_uri: str | None = None  # http://chroma:8000: a Chroma server instead of the folder
    gallery_token: str | None = Field(default=None, repr=False)  # Chroma server auth token
    # the Chroma server's data folder when it runs on this host: erasures then remove its
    # orphaned segment folders and vacuum its SQLite too (docs/privacy.md)
    gallery_server_data_dir: str | None = None
    # gallery faces older than this are erased down to the disk by the store service's
    # sweeper, every GALLERY_RETENTION_SWEEP_S; 0 keeps them until deleted. 1095 days: BIPA's
    # outer limit of three years (docs/privacy.md)
    gallery_retention_days: float = Field(default=1095.0, ge=0, le=36500)
    gallery_retention_sweep_s: float = Field(default=3600.0, gt=0, le=86400)
    # the audit log's own retention (facereid/ops/audit.py, docs/privacy.md)
    audit_retention_days: float = Field(default=365.0, gt=0, le=36500)
    gallery_dim: int = Field(default=512, ge=1, le=4096)  # widest embedding a gallery accepts
    # per embedding model id or engine, JSON
    gallery_thresholds: dict[str, Annotated[float, Field(ge=-1, le=1)]] = Field(
        default_factory=lambda: {"dlib": 0.91, "insightface": 0.45}
    )
    # Calibrated operating points (issue 24, docs/api.md "Operating points"): the JSON that
    # `python -m facereid calibrate` writes; "" = the dlib points shipped in the package
    match_operating_points_file: str = ""
    # HNSW ef_search, set when a gallery is created (docs/gallery.md)
    gallery_search_ef: int = Field(default=256, ge=1, le=8192)
    gallery_hnsw_m: int = Field(default=16, ge=2, le=128)
    gallery_hnsw_ef_construction: int = Field(default=200, ge=16, le=2048)
    gallery_max_metadata_bytes: int = Field(default=2048, ge=2, le=1 << 20)
    # embeddings per /gallery/enroll_batch
    gallery_max_batch: int = Field(default=1000, ge=1, le=100_000)
    gallery_max_cluster_faces: int = Field(default=50_000, ge=1, le=10_000_000)
    gallery_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # /gallery/cluster alone (O(n^2 d)); REQUEST_TIMEOUT_S (110 s) still bounds the request
    gallery_cluster_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    # Hardening, round 2 (issue 21, docs/security.md)
    # seals /gallery/subjects and /gallery/faces cursors; unset: a key kept in DATA_DIR/secrets.
    # Every API replica must share it (or DATA_DIR) for cursors to work across replicas.
    gallery_cursor_secret: str | None = Field(default=None, min_length=16, repr=False)
    # per tenant, over all of its galleries: 429 gallery_quota_exceeded / 413 face_quota_exceeded
    gallery_max_galleries_per_tenant: int = Field(default=100, ge=1, le=1_000_000)
    gallery_max_faces_per_tenant: int = Field(default=1_000_000, ge=1, le=1_000_000_000)
    # enrolment from an image refuses a face whose quality score (facereid/faces/quality.py)
    # is under this (422 face_quality_too_low); 0.4 passes every real test photo (docs/quality.md)
    gallery_min_quality: float = Field(default=0.4, ge=0, le=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
