"""Console entry point.  ``octractl status`` against a running daemon takes a
fast path on the standard library alone (one batched round trip, no click, no
msgspec); everything else, and every failure, goes through the full CLI."""

from __future__ import annotations

import os
import sys


def _fast_status(argv: list[str]) -> int | None:
    as_json = False
    sock = None
    seen_status = False
    it = iter(argv)
    for arg in it:
        if arg == "status" and not seen_status:
            seen_status = True
        elif arg == "--json":
            as_json = True
        elif arg == "--no-autostart":
            pass
        elif arg == "--socket":
            sock = next(it, None)
            if sock is None:
                return None
        elif arg.startswith("--socket="):
            sock = arg.split("=", 1)[1]
        else:
            return None
    if not seen_status:
        return None
    from octra_protocol import PROTOCOL_VERSION
    from octra_protocol.paths import socket_path
    from octra_protocol.quick import batch

    path = socket_path(sock)
    if not os.path.exists(path):
        return None
    try:
        init, st = batch(
            path,
            [("initialize", {"client": "octractl", "protocol_version": PROTOCOL_VERSION}), ("daemon.status", {})],
            timeout=10,
        )
    except Exception:
        return None  # let the full CLI report it properly
    if "error" in init or "error" in st:
        return None
    from .render import print_json, status

    if as_json:
        print_json(st["result"])
    else:
        sys.stdout.write(status(st["result"]) + "\n")
    return 0


def main() -> None:
    argv = sys.argv[1:]
    if argv and "status" in argv:
        code = _fast_status(argv)
        if code is not None:
            sys.exit(code)
    from .cli import main as full

    full()
