"""A misspelt field is refused on every route the served ``/docs.json`` lists (the routes are
read from the document, so a new route is covered without editing this file): 422
``invalid_request`` naming the field, and nothing done. The two typos a new user made first
(``subjet`` on an enrol, ``return_all_face`` on an analysis) are told in full."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.harness import Server

pytestmark = pytest.mark.slow

MODEL = "test/unknown-fields/4"
EMBEDDING = [1.0, 0.0, 0.0, 0.0]
TYPO = "zz_misspelt"


def post(server: Server, path: str, body: dict[str, Any]) -> httpx.Response:
    with server.client(timeout=60) as client:
        return client.post(path, json=body)


def refused_for(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == f"unknown field '{field}'"
    # the field is the only fault: the rest of the body matched the route's schema
    assert error["fields"] == [{"field": field, "problem": "unknown field"}]


def example(schema: dict[str, Any], components: dict[str, Any], gallery: str) -> Any:
    """A value the JSON Schema accepts: the body's other fields must not be at fault."""
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[-1]], components, gallery)
    if "anyOf" in schema:
        branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example(branches[0], components, gallery) if branches else None
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {
            name: gallery if name == "gallery" else example(properties[name], components, gallery)
            for name in required
        }
    simple = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": []}
    return simple[str(kind)]


def request_bodies(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each POST route's media type and request schema, from the served OpenAPI document."""
    bodies = {}
    for path, item in document["paths"].items():
        post_op = item.get("post")
        if post_op is None or "requestBody" not in post_op:
            continue
        ((media, content),) = post_op["requestBody"]["content"].items()
        bodies[path] = (media, content["schema"])
    return bodies


def faces_of(server: Server, gallery: str) -> list[dict[str, Any]]:
    answer = post(server, "/gallery/faces", {"gallery": gallery})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["faces"])


def test_a_misspelt_field_is_refused_on_every_route_and_nothing_happens(
    dlib_server: Server,
) -> None:
    gallery = f"typos-{uuid.uuid4().hex[:8]}"
    enrolled = {"gallery": gallery, "subject": "kept", "embedding": EMBEDDING}
    assert post(dlib_server, "/gallery/enroll", {**enrolled, "embedding_model": MODEL}).is_success
    before = faces_of(dlib_server, gallery)
    cursor = last_audit_seq(dlib_server)
    with dlib_server.client(timeout=60) as client:
        document = client.get("/docs.json").json()
        components = document["components"]["schemas"]
        bodies = request_bodies(document)
        assert {"/analyze", "/gallery/enroll", "/video/submit", "/tenant/erase"} <= set(bodies)
        for path, (media, schema) in bodies.items():
            body = example(schema, components, gallery)
            if media == "multipart/form-data":  # the video form: files apart, values as text
                upload = {
                    name: (f"{name}.mp4", b"not read", "video/mp4")
                    for name in body
                    if schema_is_binary(schema, components, name)
                }
                form = {k: str(v) for k, v in body.items() if k not in upload}
                answer = client.post(path, files=upload, data={**form, TYPO: "2"})
            else:
                answer = client.post(path, json={**body, TYPO: "x"})
            refused_for(answer, TYPO)
    # nothing ran: no audit entry (every gallery route, and a video job with a gallery, would
    # write one), the gallery's face is still there and named as it was (delete, drop,
    # rename, assign, retention, erase and enrolments all refused before they ran)
    after = post(dlib_server, "/audit/query", {"cursor": cursor}).json()["entries"]
    assert [e for e in after if e["route"] != "retention_expire"] == []  # others' sweeps
    assert faces_of(dlib_server, gallery) == before


def last_audit_seq(server: Server) -> int:
    """The newest audit entry's ``seq`` (the query pages oldest first)."""
    cursor = 0
    while entries := post(server, "/audit/query", {"cursor": cursor}).json()["entries"]:
        cursor = entries[-1]["seq"]
    return cursor


def schema_is_binary(schema: dict[str, Any], components: dict[str, Any], field: str) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return bool(schema["properties"][field].get("format") == "binary")


def test_a_typo_in_subject_files_no_unnamed_face(dlib_server: Server) -> None:
    gallery = f"subjet-{uuid.uuid4().hex[:8]}"
    body = {"gallery": gallery, "embedding": EMBEDDING, "embedding_model": MODEL}
    refused_for(post(dlib_server, "/gallery/enroll", {**body, "subjet": "obama"}), "subjet")
    missing = post(dlib_server, "/gallery/faces", {"gallery": gallery})
    assert missing.status_code == 404  # no gallery was made, so no face was filed
    assert post(dlib_server, "/gallery/enroll", {**body, "subject": "obama"}).is_success
    assert [face["subject"] for face in faces_of(dlib_server, gallery)] == ["obama"]


def test_a_typo_in_return_all_faces_is_refused_not_answered_with_one_face(
    dlib_server: Server,
) -> None:
    body = {"image_data": "not even read", "return_all_face": True}
    refused_for(post(dlib_server, "/analyze", body), "return_all_face")
