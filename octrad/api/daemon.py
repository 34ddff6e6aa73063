"""initialize, daemon.status, daemon.shutdown."""

from __future__ import annotations

import os
import shutil
import time

import anyio

from octra_protocol import PROTOCOL_VERSION
from octra_protocol.errors import RpcError
from octra_protocol.methods.daemon import InitializeResult, SandboxStatus, StatusResult

from .. import __version__

CAPABILITIES = ["batch", "events"]

_NIX_TTL_S = 30.0
_nix_seen: tuple[float, bool] = (float("-inf"), False)


def nix_available() -> bool:
    """Whether nix-store is on PATH; looked up at most every 30 s (status is polled)."""
    global _nix_seen
    now = time.monotonic()
    if now - _nix_seen[0] > _NIX_TTL_S:
        _nix_seen = (now, shutil.which("nix-store") is not None)
    return _nix_seen[1]


def register(router) -> None:
    @router.method("initialize", inline=True)
    async def initialize(call, p):
        if p.protocol_version.split(".", 1)[0] != PROTOCOL_VERSION.split(".", 1)[0]:
            raise RpcError.of(
                "protocol_mismatch",
                f"client speaks protocol {p.protocol_version}, this daemon {PROTOCOL_VERSION}",
                server_protocol_version=PROTOCOL_VERSION,
            )
        call.conn.client_name = p.client
        return InitializeResult(
            server_version=__version__, protocol_version=PROTOCOL_VERSION, capabilities=CAPABILITIES
        )

    @router.method("daemon.status", inline=True)
    async def status(call, p):
        from ..scaffold import sandbox

        d = call.daemon
        setting = (await d.settings.get()).sandbox
        # probed once per daemon (cached): the first status after start may take a moment
        state = await anyio.to_thread.run_sync(sandbox.status, setting)
        return StatusResult(
            version=__version__,
            pid=os.getpid(),
            uptime_s=round(time.monotonic() - d.started, 3),
            socket=d.config.socket,
            data_dir=d.config.data_dir,
            tasks_running=d.tasks_running(),
            nix_available=nix_available(),
            default_provider=d.default_provider(),
            log_file=str(d.log_file) if d.log_file else None,
            keys=d.secrets.where if getattr(d, "secrets", None) else None,
            sandbox=SandboxStatus(**state),
        )

    @router.method("daemon.shutdown")
    async def shutdown(call, p):
        reason = f"daemon.shutdown from {call.conn.client_name}"
        call.after_reply.append(lambda: call.daemon.request_shutdown(reason))
        return {}
