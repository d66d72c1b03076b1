"""HTTP checks for scripts/image_test.sh and scripts/compose_test.sh against a running image:
`URL first` (one /analyze on t1.jpg, right after /readyz: the cold start's first answer),
`URL enrol` (health, livez, /analyze on insightface's t1.jpg, /ui, enrol + search), `URL search`
(after a restart: the enrolled face is still found) or `URL video` (a 2 s clip of t1.jpg as a
video job naming its identities from the enrolled gallery); API_KEY= for a service with
AUTH=required. Exits non-zero with one line per failure."""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import httpx

GALLERY = "image-test"


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")


def t1_jpeg() -> bytes:
    """insightface's t1.jpg (six faces), shipped in its wheel."""
    return resources.files("insightface").joinpath("data/images/t1.jpg").read_bytes()


def t1() -> str:
    return base64.b64encode(t1_jpeg()).decode()


def t1_clip() -> bytes:
    """Two seconds of t1.jpg at 5 fps as an mp4 (OpenCV's mp4v writer)."""
    import cv2
    import numpy as np

    frame = cv2.imdecode(np.frombuffer(t1_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None, "t1.jpg did not decode"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t1.mp4"
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(path), fourcc, 5.0, (frame.shape[1], frame.shape[0]))
        for _ in range(10):
            writer.write(frame)
        writer.release()
        return path.read_bytes()


def video(client: httpx.Client) -> int:
    """A video job naming its identities from the gallery the enrol phase filled."""
    files = {"video": ("t1.mp4", t1_clip(), "video/mp4")}
    form = {"sample_fps": "2", "gallery": GALLERY, "include_emotions": "false"}
    submitted = client.post("/video/submit", files=files, data=form)
    say("video submit:", submitted.status_code)
    if submitted.status_code != 202:
        say(submitted.text[:300])
        return 1
    job = {"job_id": submitted.json()["job_id"]}
    status = None
    for _ in range(240):
        status = client.post("/video/status", json=job).json().get("status")
        if status in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.5)
    result = client.post("/video/result", json=job).json()
    identities = result.get("identities", [])
    named = sorted({str(i.get("subject")) for i in identities})
    say("video:", status, len(identities), "identities, named", named)
    return 0 if status == "completed" and "t1-primary" in named else 1


def main(url: str, phase: str) -> int:
    image = t1()
    key = os.environ.get("API_KEY")  # where the service runs with AUTH=required
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
        if phase == "video":
            return video(client)
        if phase == "first":
            answered = client.post("/analyze", json={"image_data": image, "return_all_faces": True})
            faces = answered.json().get("faces", [])
            say(f"first /analyze: {answered.status_code}, {len(faces)} faces")
            return 0 if answered.status_code == 200 else 1
        if phase == "enrol":
            health = client.get("/health").json()
            say("health:", health.get("status"), {k: v for k, v in health.items() if k != "status"})
            if client.get("/livez").status_code != 200:
                say("livez not 200")
                return 1
            analysed = client.post("/analyze", json={"image_data": image, "return_all_faces": True})
            faces = analysed.json().get("faces", [])
            say(f"/analyze t1.jpg: {analysed.status_code}, {len(faces)} faces")
            if analysed.status_code != 200 or len(faces) != 6:
                return 1
            ui = client.get("/ui/")
            if ui.status_code != 200 or "<html" not in ui.text.lower():
                say("/ui:", ui.status_code)
                return 1
            enrolled = client.post(
                "/gallery/enroll",
                json={"gallery": GALLERY, "subject": "t1-primary", "image_data": image},
            )
            say("enrol:", enrolled.status_code, enrolled.json().get("face_id"))
            if enrolled.status_code != 200:
                say(enrolled.text[:300])
                return 1
        found = client.post(
            "/gallery/search", json={"gallery": GALLERY, "image_data": image, "top_k": 1}
        )
        matches = found.json().get("matches", [])
        say(
            "search:",
            found.status_code,
            [(m["subject"], round(m["similarity"], 3)) for m in matches],
        )
        if found.status_code != 200 or not matches or matches[0]["subject"] != "t1-primary":
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
