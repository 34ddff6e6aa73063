"""settings.get / settings.set."""

from __future__ import annotations

import msgspec

from octra_protocol.errors import RpcError

from ..settings import SettingsStore, check


async def setup(daemon) -> None:
    check(daemon.config.settings)
    daemon.settings = SettingsStore(daemon.db, daemon.config.settings)


def register(router) -> None:
    @router.method("settings.get")
    async def get(call, p):
        return await call.daemon.settings.get()

    @router.method("settings.set")
    async def set_(call, p):
        changes = {f: getattr(p, f) for f in p.__struct_fields__ if getattr(p, f) is not msgspec.UNSET}
        for key, value in changes.items():
            if value is None and not key.startswith("max_") or key == "max_parallel_llm_calls" and value is None:
                raise RpcError.of("invalid_params", f"{key} cannot be null")
        return await call.daemon.settings.update(changes)
