"""Request bodies whose framing is wrong are refused here, in the contract's shape, before
BentoML parses them.

- A ``multipart/form-data`` body without a ``boundary`` (BentoML answered 500 on every route),
  or a ``Content-Type`` that does not parse, is a 400 ``malformed_content_type``.
- On routes with file fields (``upload_fields``: e.g. ``video`` on ``/video/submit``), a part
  for such a field that is not a file (no ``filename``), or a body that is not multipart at
  all (JSON, a urlencoded form), is a 422 ``file_expected``. BentoML
  would coerce the text into a file, importing ``uvloop`` (absent: 500) and, were it present,
  fetching the text as a URL from the server with no size cap.

The part headers are read as the body streams through (python-multipart's parser, the one
starlette uses); the body itself is passed on untouched and never buffered here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from facereid.errors import echo
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_error

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _State:
    rejected: Rejected | None = None
    started: bool = False


def upload_fields(apis: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Route -> names of its file-typed fields, read from a BentoML service's ``apis``
    (duck-typed: each has ``route`` and a pydantic ``input_spec``); a field is a file when
    its annotation mentions ``pathlib.Path`` (BentoML's file type) or bytes-like file types."""
    fields: dict[str, frozenset[str]] = {}
    for api in apis.values():
        spec = getattr(api, "input_spec", None)
        model_fields = getattr(spec, "model_fields", {}) or {}
        names = frozenset(
            name
            for name, info in model_fields.items()
            if _is_file(getattr(info, "annotation", None))
        )
        if names:
            fields[str(getattr(api, "route", ""))] = names
    return fields


def _is_file(annotation: object) -> bool:
    text = repr(annotation)
    return "Path" in text or "UploadFile" in text or "PIL.Image" in text


def _content_type(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if bytes(name).lower() == b"content-type":
            return bytes(value)
    return None


class ContentCheckMiddleware:
    def __init__(self, app: ASGIApp, file_fields: Mapping[str, Collection[str]]) -> None:
        self.app = app
        self.file_fields = {path: frozenset(names) for path, names in file_fields.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        files = self.file_fields.get(scope.get("path", ""), frozenset())
        raw = _content_type(scope)
        if raw is None:
            if files:
                await _answer(send, _not_multipart(files))
                return
            await self.app(scope, receive, send)
            return
        try:
            media, options = parse_options_header(raw)
            raw.decode("ascii")
        except (ValueError, UnicodeDecodeError):
            await send_error(send, 400, "malformed_content_type", "Content-Type does not parse")
            return
        if media != b"multipart/form-data":
            if files:  # JSON or a urlencoded form can only carry text for the file
                await _answer(send, _not_multipart(files))
                return
            await self.app(scope, receive, send)
            return
        boundary = options.get(b"boundary", b"")
        if not boundary or len(boundary) > 200:
            message = "multipart/form-data needs a boundary of 1-200 characters"
            await send_error(send, 400, "malformed_content_type", message)
            return
        await self._checked(scope, receive, send, boundary, files)

    async def _checked(
        self, scope: Scope, receive: Receive, send: Send, boundary: bytes, files: frozenset[str]
    ) -> None:
        checker = PartChecker(boundary, files)
        state = _State()

        async def checking_receive() -> Message:
            if state.rejected is not None:
                raise state.rejected
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                problem = checker.feed(message["body"])
                if problem is not None:
                    state.rejected = problem
                    raise problem
            return message

        async def guarded_send(message: Message) -> None:
            if state.rejected is not None:  # the app caught our exception: answer instead
                if message["type"] == "http.response.start" and not state.started:
                    state.started = True
                    await _answer(send, state.rejected)
                return
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, checking_receive, guarded_send)
        except Rejected as rejected:
            if not state.started:
                state.started = True
                await _answer(send, rejected)


class PartChecker:
    """Reads part headers as the body streams by and reports the first problem, mirroring the
    checks starlette's form parser makes (which BentoML turns into 500s): every part needs a
    name, at most ``MAX_PARTS`` parts, a text part at most ``MAX_TEXT_PART`` bytes; and file
    fields must be files."""

    MAX_PARTS = 1000  # starlette's max_fields / max_files
    MAX_TEXT_PART = 1024 * 1024  # starlette's max_part_size for non-file parts

    def __init__(self, boundary: bytes, files: frozenset[str]) -> None:
        self.files = files
        self.field, self.value = b"", b""
        self.disposition = b""
        self.parts = 0
        self.text_bytes: int | None = None  # size of the current text part; None for a file
        self.problem: Rejected | None = None
        self.parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._on_field,
                "on_header_value": self._on_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
            },
        )

    def feed(self, chunk: bytes) -> Rejected | None:
        try:
            self.parser.write(chunk)
        except MultipartParseError:
            self._fail(400, "malformed_multipart", "multipart body does not parse")
        return self.problem

    def _fail(self, status: int, code: str, message: str) -> None:
        if self.problem is None:
            self.problem = Rejected(status, code, message)

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def _on_header_end(self) -> None:
        if self.field.strip().lower() == b"content-disposition":
            self.disposition = self.value
        self.field, self.value = b"", b""

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self.disposition)
        self.disposition = b""
        self.parts += 1
        name = params.get(b"name", b"").decode("latin-1")
        is_file = b"filename" in params
        self.text_bytes = None if is_file else 0
        if not name:
            self._fail(400, "malformed_multipart", "every multipart part needs a name")
        elif self.parts > self.MAX_PARTS:
            self._fail(413, "payload_too_large", f"more than {self.MAX_PARTS} multipart parts")
        elif name in self.files and not is_file:
            self._fail(422, "file_expected", f"field {echo(name)!r} must be a file upload")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.text_bytes is None:
            return
        self.text_bytes += end - start
        if self.text_bytes > self.MAX_TEXT_PART:
            message = f"a text field is over {self.MAX_TEXT_PART} bytes; send large data as JSON"
            self._fail(413, "payload_too_large", message)


def _not_multipart(files: frozenset[str]) -> Rejected:
    names = ", ".join(sorted(files))
    message = f"send multipart/form-data with a file upload for: {names}"
    return Rejected(422, "file_expected", message)


async def _answer(send: Send, rejected: Rejected) -> None:
    await send_error(send, rejected.status, rejected.code, rejected.message)
