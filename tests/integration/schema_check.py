"""Every 200 answer the integration suite receives is checked against the schema its server
declares in ``/docs.json`` (issue 23: "one fixture, all tests").

``checked_answers`` (tests/integration/conftest.py, autouse) wraps ``httpx.Client.send`` and
``httpx.AsyncClient.send``: the harness's clients, ``httpx.get``/``post``, BentoML's own
``SyncHTTPClient``/``AsyncHTTPClient`` and the generated client all go through them. An answer
that breaks its declared schema fails the test at the call that received it, naming the route
and the first violation. Streams, non-JSON answers, routes a document does not declare and
servers without our OpenAPI 3.1 document (the CLIP-only service, the baseline app) pass
through unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema

DOCUMENT_PATH = "/docs.json"


def _pointer(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}/responses/200/content/application~1json/schema"


class AnswerChecker:
    """The served documents, fetched once per origin and test, and one validator per route."""

    def __init__(self, fetch: Callable[[str], httpx.Response]) -> None:
        self._fetch = fetch  # unwrapped GET, so fetching a document is never itself checked
        self._documents: dict[str, dict[str, Any] | None] = {}
        self._validators: dict[tuple[str, str, str], jsonschema.Draft202012Validator | None] = {}
        self.checked = 0

    def forget(self) -> None:
        """A test may start a server of its own on a port an earlier test's server used."""
        self._documents.clear()
        self._validators.clear()

    def _document(self, origin: str) -> dict[str, Any] | None:
        if origin not in self._documents:
            try:
                response = self._fetch(origin + DOCUMENT_PATH)
                document = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                document = None
            # our completed OpenAPI 3.1 document; BentoML's own 3.0 one (the CLIP-only
            # service's) drops null from nullable fields, which issue 23 fixed in ours only
            declared = (
                isinstance(document, dict)
                and "paths" in document
                and str(document.get("openapi", "")).startswith("3.1")
            )
            self._documents[origin] = document if declared else None
        return self._documents[origin]

    def _validator(
        self, origin: str, path: str, method: str
    ) -> jsonschema.Draft202012Validator | None:
        key = (origin, path, method)
        if key not in self._validators:
            document = self._document(origin)
            operation = (document or {}).get("paths", {}).get(path, {}).get(method, {})
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            validator = None
            if "application/json" in content and document is not None:
                schema = {**document, "$ref": _pointer(path, method)}  # refs resolve inside
                validator = jsonschema.Draft202012Validator(schema)
            self._validators[key] = validator
        return self._validators[key]

    def check(self, response: httpx.Response) -> None:
        if response.status_code != 200 or not response.is_closed:
            return  # errors have their own tests; an unread stream is the caller's
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        request = response.request
        url = request.url
        if url.path == DOCUMENT_PATH:
            return
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        validator = self._validator(origin, url.path, request.method.lower())
        if validator is None:
            return
        try:
            answer = json.loads(response.content)
        except ValueError as error:
            raise AssertionError(f"{request.method} {url.path}: 200 is not JSON: {error}") from None
        failure = jsonschema.exceptions.best_match(validator.iter_errors(answer))
        if failure is not None:
            where = "/".join(str(part) for part in failure.absolute_path) or "(root)"
            raise AssertionError(
                f"{request.method} {url.path} answered 200 outside its declared schema "
                f"at {where}: {failure.message[:300]}"
            )
        self.checked += 1
