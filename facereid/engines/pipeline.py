"""The face service's pipeline: encoded images in, decoded next to the model
(``facereid.intake.service_decode``), detected and embedded in batches, faces in original
pixels and emotion crops out (``facereid.wire.faces.FacesAnswer``). ``runners/face.py`` is
its BentoML door; ``detect_and_embed`` is also its decoded-frame path (the video pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from facereid.engines.base import FaceEngine
from facereid.errors import FaceReIDError
from facereid.faces.quality import face_quality
from facereid.faces.records import BGRImage, FaceRecord
from facereid.intake.service_decode import ServiceDecoder
from facereid.intake.shipping import ShippedImage
from facereid.wire.faces import Crop, EncodedRequest, FacesAnswer, FacesWire, answer_to_wire


def detect_and_embed(
    engine: FaceEngine, images: Sequence[BGRImage], attributes: Sequence[bool] | None = None
) -> list[list[FaceRecord]]:
    """Faces per image (largest first), the whole batch's faces embedded in one call; with
    ``attributes`` (a flag per image) the faces of the flagged images get their
    ``FaceAttributes``, also in one call per model. Every face gets its quality
    (``facereid.faces.quality``), measured on the pixels the model saw."""
    detections = engine.detect(images) if images else []
    owners = [k for k, faces in enumerate(detections) for _ in faces]
    flat = [face for faces in detections for face in faces]
    embeddings = (
        engine.embed([images[k] for k in owners], flat)
        if flat
        else np.zeros((0, engine.model_info.embedding_dim), np.float32)
    )
    wanted = [row for row, owner in enumerate(owners) if attributes and attributes[owner]]
    found_attrs = dict(
        zip(
            wanted,
            engine.attributes([images[owners[r]] for r in wanted], [flat[r] for r in wanted])
            if wanted
            else [],
            strict=True,
        )
    )
    records: list[list[FaceRecord]] = [[] for _ in images]
    for row, (owner, found) in enumerate(zip(owners, flat, strict=True)):
        record = FaceRecord.from_detection(found, embeddings[row], found_attrs.get(row))
        quality = face_quality(images[owner], record.bbox, record.score, record.kps)
        records[owner].append(replace(record, quality=quality))
    return records


def analyze_encoded(
    engine: FaceEngine,
    decoder: ServiceDecoder,
    requests: Sequence[EncodedRequest],
    groups: int = 1,
) -> list[FacesWire]:
    """Per request its ``FacesAnswer`` (faces in original pixels, crops as RGB or None) or
    its own error, in wire form: one image's failure is its own answer.

    With ``groups`` > 1 the batch is split into that many contiguous groups, each decoded,
    detected and embedded on its own thread of the decode pool: on a CPU, a batched ONNX call
    costs what its images cost one by one, so groups side by side (ONNX Runtime and Pillow
    release the GIL) are what uses every core. The answers are the same either way."""
    if groups > 1 and len(requests) > 1:
        size = -(-len(requests) // min(groups, len(requests)))
        chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
        parts = decoder.pool.map(lambda chunk: _analyze(engine, decoder, chunk, False), chunks)
        return [answer for part in parts for answer in part]
    return _analyze(engine, decoder, requests, True)


def _analyze(
    engine: FaceEngine, decoder: ServiceDecoder, requests: Sequence[EncodedRequest], pooled: bool
) -> list[FacesWire]:
    from facereid.emotion.crops import face_crops  # torch-free

    raws = [r.raw for r in requests]
    # inside a group (already on a pool thread) decode in line: waiting on the same pool
    # from its own threads could deadlock
    decoded = decoder.decode_all(raws) if pooled else [decoder.decode_or_error(r) for r in raws]
    shipped = [d for d in decoded if isinstance(d, ShippedImage)]
    flags = [
        r.attributes for r, d in zip(requests, decoded, strict=True) if isinstance(d, ShippedImage)
    ]
    records = iter(detect_and_embed(engine, [s.image for s in shipped], flags))
    default_margin = decoder.settings.emotion_crop_margin
    answers: list[FacesWire] = []
    for request, image in zip(requests, decoded, strict=True):
        if isinstance(image, FaceReIDError):
            answers.append(answer_to_wire(image))
            continue
        faces = next(records)
        # boxes in the shipped image's pixels, as the crops always were
        boxes = [list(record.bbox) for record in faces[: request.crops]]
        margin = default_margin if request.crop_margin is None else request.crop_margin
        crops: list[Crop] = face_crops(image.image, boxes, margin)
        originals = [image.to_original(record) for record in faces]
        answers.append(answer_to_wire(FacesAnswer(originals, crops)))
    return answers
