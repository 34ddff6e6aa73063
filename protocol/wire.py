"""The JSON-RPC 2.0 envelope and NDJSON framing.

One message per line: compact UTF-8 JSON terminated by ``\\n``.  A line longer
than :data:`MAX_LINE` is a protocol violation (-32600, then the connection
closes).  ``params`` and ``result`` stay :class:`msgspec.Raw` in the envelope so
they can be decoded straight into the type the method expects.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

MAX_LINE = 16 * 1024 * 1024

Id = Union[int, str, None]


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    method: str
    jsonrpc: str = "2.0"
    params: msgspec.Raw = msgspec.Raw(b"null")
    id: Union[int, str, None, msgspec.UnsetType] = msgspec.UNSET

    @property
    def is_notification(self) -> bool:
        return self.id is msgspec.UNSET


class ErrorObject(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: Union[dict[str, Any], None] = None


class Response(msgspec.Struct):
    id: Id
    result: Any
    jsonrpc: str = "2.0"


class ErrorResponse(msgspec.Struct):
    id: Id
    error: ErrorObject
    jsonrpc: str = "2.0"


class Notification(msgspec.Struct):
    method: str
    params: Any
    jsonrpc: str = "2.0"


class Incoming(msgspec.Struct):
    """Anything a client may receive: a response or a server notification."""

    jsonrpc: str = "2.0"
    id: Union[int, str, None, msgspec.UnsetType] = msgspec.UNSET
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: Union[ErrorObject, None] = None
    method: Union[str, None] = None
    params: msgspec.Raw = msgspec.Raw(b"null")


_encoder = msgspec.json.Encoder()


def encode_line(message: Any) -> bytes:
    """Encode one message as a framed line (compact JSON + ``\\n``)."""
    buf = bytearray()
    _encoder.encode_into(message, buf)
    buf += b"\n"
    return bytes(buf)


class LineTooLong(Exception):
    pass


class LineReader:
    """Reads ``\\n``-terminated lines from an anyio byte stream, capped in size."""

    def __init__(self, stream: Any, max_line: int = MAX_LINE, chunk: int = 65536):
        self._stream = stream
        self._buf = bytearray()
        self._scan = 0
        self._max = max_line
        self._chunk = chunk

    async def readline(self) -> bytes | None:
        """The next line without its terminator; None at end of stream.

        Raises :class:`LineTooLong` for a line of more than ``max_line`` bytes
        (terminator not counted), whether or not its newline has arrived.
        """
        import anyio

        while True:
            idx = self._buf.find(b"\n", self._scan)
            if idx > self._max:  # a newline came, but past the cap: the cap is exact
                raise LineTooLong(f"line exceeds {self._max} bytes")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 1]
                self._scan = 0
                return line
            self._scan = len(self._buf)
            if self._scan > self._max:
                raise LineTooLong(f"line exceeds {self._max} bytes")
            try:
                data = await self._stream.receive(self._chunk)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                data = b""
            if not data:
                if self._buf.strip():
                    line = bytes(self._buf)
                    self._buf.clear()
                    self._scan = 0
                    return line
                return None
            self._buf += data
