"""Start ``octrad`` in the background when no daemon answers (like tmux does).

Stdlib only: the CLI's fast path uses it too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

from .errors import DaemonUnreachable


def autostart_disabled() -> bool:
    return os.environ.get("OCTRA_NO_AUTOSTART", "").strip().lower() in {"1", "true", "yes", "on"}


def daemon_answers(path: str, timeout: float = 1.0) -> bool:
    """True when something accepts connections on the socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def daemon_command(path: str) -> list[str]:
    override = os.environ.get("OCTRA_DAEMON_COMMAND", "").split()
    base = override or [sys.executable, "-m", "octrad"]
    return [*base, "serve", "--socket", path]


def ensure_daemon(path: str, timeout: float = 15.0) -> bool:
    """Make sure a daemon answers on ``path``; True when one had to be started."""
    if daemon_answers(path):
        return False
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            daemon_command(path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
        deadline = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if daemon_answers(path, timeout=0.5):
                return True
            code = proc.poll()
            if code is not None:
                if daemon_answers(path):  # lost a race to another starter
                    return False
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
                detail = "; ".join(tail) or f"exit code {code}"
                raise DaemonUnreachable(f"octrad failed to start on {path}: {detail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    raise DaemonUnreachable(f"octrad did not answer on {path} within {timeout:.0f}s")
