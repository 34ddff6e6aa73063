"""A blocking one-shot client on the standard library only (socket + json).

Used where start-up time matters more than features (``octractl status``):
it sends one batch, reads the answers and closes.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from .errors import ConnectionLost, DaemonUnreachable


def batch(path: str, calls: list[tuple[str, dict[str, Any]]], timeout: float = 30.0) -> list[dict]:
    """Send ``calls`` as one JSON-RPC batch; return the responses in call order."""
    req = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        try:
            s.connect(path)
        except OSError as exc:
            raise DaemonUnreachable(f"no daemon answers on {path}: {exc.strerror or exc}") from None
        s.sendall(json.dumps(req, separators=(",", ":")).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionLost(f"daemon closed the connection on {path}")
            buf += chunk
    finally:
        s.close()
    answers = json.loads(buf)
    if isinstance(answers, dict):  # a single error for the whole batch
        answers = [answers]
    by_id = {a.get("id"): a for a in answers}
    return [by_id.get(i, answers[0]) for i in range(len(calls))]
