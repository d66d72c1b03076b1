"""The parser's own 400 in the error shape (issue 21): the replaced method is still there."""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from facereid.web import protocol_errors


class FakeTransport:
    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True


def test_both_protocols_answer_the_error_shape() -> None:
    protocol_errors.install()
    for protocol in (H11Protocol, HttpToolsProtocol):
        assert protocol.send_400_response is protocol_errors._send_json_400
        fake = type("P", (), {"transport": FakeTransport()})()
        protocol.send_400_response(fake, "Invalid HTTP request received.")
        head, _, body = fake.transport.data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        assert b"content-type: application/json" in head
        assert int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) == len(body)
        assert json.loads(body)["error"]["code"] == "bad_request"
        assert fake.transport.closed
