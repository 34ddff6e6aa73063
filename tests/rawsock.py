"""A raw line-oriented socket for tests that send frames no client would."""

from __future__ import annotations

import json
import socket


class RawConn:
    def __init__(self, path: str, timeout: float = 10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv_json(self):
        return json.loads(self.line())

    def call(self, obj) -> object:
        self.send(json.dumps(obj).encode() + b"\n")
        return self.recv_json()

    def closed(self) -> bool:
        try:
            return self.s.recv(1) == b""
        except OSError:
            return True

    def close(self) -> None:
        self.s.close()
