"""The error shape for requests the HTTP parser refuses before any ASGI code runs.

uvicorn answers a request it cannot parse (a NUL or other control byte in a header, a
malformed request line) with a plain-text 400 written straight to the socket, so neither
``ContractMiddleware`` nor anything else of ours sees it (issue 21). ``install()`` replaces
that answer, for both of uvicorn's HTTP/1.1 protocols (httptools, which BentoML's uvicorn
picks when it is installed, and h11), with the contract's JSON error: code ``bad_request``,
the usual security headers, and the connection closed as before. uvicorn offers no hook for
this answer, so the method is replaced; ``tests/unit/facereid/web/test_protocol_errors.py``
fails if a uvicorn upgrade renames it.
"""

from __future__ import annotations

from typing import Any

from facereid.web.contract import error_body

MESSAGE = "the request is not valid HTTP (a control character in a header or a malformed line)"
HEADERS = (
    b"content-type: application/json\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"cache-control: no-store\r\n"
    b"connection: close\r\n"
)


def response_bytes() -> bytes:
    body = error_body("bad_request", MESSAGE)
    length = f"content-length: {len(body)}\r\n".encode()
    return b"HTTP/1.1 400 Bad Request\r\n" + HEADERS + length + b"\r\n" + body


def _send_json_400(self: Any, msg: str) -> None:
    self.transport.write(response_bytes())
    self.transport.close()


def install() -> None:
    """Idempotent; called where the API service is imported (``service.py``)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    protocols: list[Any] = [H11Protocol]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional for uvicorn
        pass
    else:
        protocols.append(HttpToolsProtocol)
    for protocol in protocols:
        if not hasattr(protocol, "send_400_response"):
            raise RuntimeError(f"{protocol.__name__} no longer has send_400_response")
        protocol.send_400_response = _send_json_400
