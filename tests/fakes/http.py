"""What every fake service's HTTP server needs: a loopback server that takes
bursts of connections, a handler that answers promptly and quietly, and the
life of the service around them (a port, a thread, ``url``, ``close``)."""

from __future__ import annotations

import socket
import threading
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


class Service:
    """A fake service served from its own thread on a free loopback port; its
    handler class sees the service as ``owner``.  A context manager."""

    def _serve(self, handler: type[Handler], host: str = "127.0.0.1") -> None:
        bound = type(handler.__name__, (handler,), {"owner": self})
        self._server = Server((host, 0), bound)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
