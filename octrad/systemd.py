"""The two systemd conventions the daemon speaks: ``sd_notify`` (Type=notify)
and socket activation (``LISTEN_FDS``/``LISTEN_PID``)."""

from __future__ import annotations

import os
import socket

SD_LISTEN_FDS_START = 3


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to ``$NOTIFY_SOCKET``; False when unset."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(addr)
            s.sendall(state.encode())
        except OSError:
            return False
    return True


def listen_fds(unset: bool = True) -> list[socket.socket]:
    """Sockets passed by systemd to this process (empty when not activated)."""
    try:
        pid = int(os.environ.get("LISTEN_PID", ""))
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if pid != os.getpid() or count <= 0:
        return []
    if unset:
        for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(var, None)
    socks = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        socks.append(socket.socket(fileno=fd))
    return socks


# -- unit files ------------------------------------------------------------

def service_unit(exec_path: str) -> str:
    """The user service: Type=notify, restarted on failure; keys from an env file."""
    return f"""# octrad as a systemd user service (written by `octrad install-service`)
[Unit]
Description=Octra daemon (multi-agent AI orchestrator)
After=octrad.socket

[Service]
Type=notify
ExecStart={exec_path} serve
Restart=on-failure
RestartSec=2
# provider keys and GITHUB_TOKEN as KEY=value lines; never in this file
EnvironmentFile=-%h/.config/octra/env

[Install]
WantedBy=default.target
"""


def socket_unit() -> str:
    """The socket unit: systemd listens and starts octrad on the first connection."""
    return """# the socket of octrad for socket activation (written by `octrad install-service`)
[Unit]
Description=Octra daemon socket

[Socket]
ListenStream=%t/octra/octrad.sock
SocketMode=0600
DirectoryMode=0700

[Install]
WantedBy=sockets.target
"""
