"""The doors between the rooms: what crosses a process boundary, typed.

- ``errors``: the error body and the one ``error_to_wire``/``error_from_wire`` pair; a code
  comes back as its own ``FaceReIDError`` class.
- ``faces``: the face service's records (``FaceModelInfo``, ``EncodedRequest``,
  ``FacesAnswer``); ``facereid.faces.records.FaceRecord`` is the face itself.
- ``gallery``: the gallery store service's arguments and answers.
- ``clients``: the ``FaceClient``, ``EmotionClient`` and ``GalleryClient`` protocols, which the
  BentoML-backed clients (``facereid.analysis.model_client``, ``runners.gallery_api``) and the
  tests' fakes implement.

docs/architecture.md walks one image through these types.
"""
