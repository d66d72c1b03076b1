"""HTTP checks for scripts/image_test.sh against a running image: `URL enrol` (health, livez,
/analyze on insightface's t1.jpg, /ui, enrol + search) or `URL search` (after a restart: the
enrolled face is still found). Exits non-zero with one line per failure."""

from __future__ import annotations

import base64
import sys
from importlib import resources

import httpx

GALLERY = "image-test"


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")


def t1() -> str:
    data = resources.files("insightface").joinpath("data/images/t1.jpg").read_bytes()
    return base64.b64encode(data).decode()


def main(url: str, phase: str) -> int:
    image = t1()
    with httpx.Client(base_url=url, timeout=120) as client:
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
