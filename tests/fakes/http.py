"""What every fake service's HTTP server needs: a loopback server that takes
bursts of connections, and a handler that answers promptly and quietly."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    #: socketserver's default backlog of 5 drops bursts of new connections (a
    #: 1 s SYN retry): the pipeline opens many at once
    request_queue_size = 128


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client went away (a timeout, a cancellation): not the fake's problem
