"""settings.get / settings.set."""

from __future__ import annotations

import msgspec

from octra_protocol.errors import RpcError

from ..settings import SettingsStore, check


async def setup(daemon) -> None:
    daemon.settings = SettingsStore(daemon.db, daemon.config.settings)


def provider_choice(daemon, name: str | None) -> str:
    """The default_provider setting as stored: "" (automatic), offline, or a configured provider."""
    name = (name or "").strip().lower()
    if not name or name == "offline":
        return name
    llm = daemon.llm
    if llm.registry.get(name) is None:
        known = sorted({c.name for c in llm.registry.all()})
        raise RpcError.of("invalid_params", f"default_provider must be a configured provider or offline, not {name!r}; "
                          f"configured: {', '.join(known) or 'none'} (add one with `octractl providers set`)")
    return name


def register(router) -> None:
    @router.method("settings.get")
    async def get(call, p):
        return await call.daemon.settings.get()

    @router.method("settings.set")
    async def set_(call, p):
        changes = {f: getattr(p, f) for f in p.__struct_fields__ if getattr(p, f) is not msgspec.UNSET}
        if "default_provider" in changes:
            changes["default_provider"] = provider_choice(call.daemon, changes["default_provider"])
        check(changes)
        new = await call.daemon.settings.update(changes)
        call.daemon.llm.registry.chosen = new.default_provider
        return new
