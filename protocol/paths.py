"""Where the daemon's socket is, as both the daemon and the clients see it.

``$XDG_RUNTIME_DIR/octra/octrad.sock`` is computed without platformdirs (the
same rule platformdirs applies, checked by a test) so that the CLI's fast path
stays cheap; only without ``XDG_RUNTIME_DIR`` is platformdirs consulted.
"""

from __future__ import annotations

import os

APP_NAME = "octra"
SOCKET_NAME = "octrad.sock"


def default_socket_path() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        return os.path.join(runtime, APP_NAME, SOCKET_NAME)
    import platformdirs

    return os.path.join(platformdirs.user_runtime_dir(APP_NAME), SOCKET_NAME)


def socket_path(override: str | None = None) -> str:
    """Flag > ``OCTRA_SOCKET`` > default."""
    if override:
        return os.path.abspath(os.path.expanduser(override))
    env = os.environ.get("OCTRA_SOCKET", "").strip()
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return default_socket_path()
