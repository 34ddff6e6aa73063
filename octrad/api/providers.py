"""providers.list / set / remove / test, and the ``daemon.llm`` service."""

from __future__ import annotations

from octra_protocol.methods.providers import ListResult, ProviderError, ProviderInfo, RemoveResult, TestResult

from ..config import ConfigError
from ..providers.service import LLMService
from ..providers.types import PSEUDO


async def setup(daemon) -> None:
    daemon.llm = LLMService(
        daemon.db,
        daemon.bus,
        daemon.settings,
        file_providers=daemon.config.providers,
        default_provider=daemon.config.default_provider,
        secrets=daemon.secrets,
    )
    await daemon.llm.start()
    registry = daemon.llm.registry
    registry.chosen = (await daemon.settings.get()).default_provider
    name = daemon.config.default_provider
    if name and name not in PSEUDO and registry.get(name) is None:
        # every run would fail on it: say so now, naming where it was set and what is allowed
        known = sorted({c.name for c in registry.all()})
        why = f" ({registry.file_errors[name]})" if name in registry.file_errors else ""
        raise ConfigError(f"{daemon.config.default_provider_source}: default_provider {name!r} is not a configured provider{why}; "
                          f"allowed: offline{''.join(', ' + k for k in known)} (or leave it out: the first configured one, else offline)")


async def teardown(daemon) -> None:
    llm = getattr(daemon, "llm", None)
    if llm is not None:
        await llm.aclose()


def _info(cfg, default: str) -> ProviderInfo:
    return ProviderInfo(
        name=cfg.name, kind=cfg.kind, model=cfg.model, base_url=cfg.base_url, has_key=bool(cfg.api_key),
        source=cfg.source, default=cfg.name == default, timeout_s=cfg.timeout_s, structured=cfg.structured,
    )


def register(router) -> None:
    @router.method("providers.list")
    async def list_(call, p):
        llm = call.daemon.llm
        default = llm.default_provider()
        return ListResult(
            providers=[_info(c, default) for c in sorted(llm.registry.all(), key=lambda c: c.name)],
            default=default,
            errors=[ProviderError(name=n, error=e) for n, e in sorted(llm.registry.file_errors.items())],
        )

    @router.method("providers.set")
    async def set_(call, p):
        llm, daemon = call.daemon.llm, call.daemon
        before = llm.default_provider()
        new = llm.registry.get(p.name) is None
        cfg = await llm.registry.set(p.name, p.kind, p.model, p.base_url, p.api_key, p.timeout_s, p.structured)
        if new and not llm.registry.chosen and not daemon.config.default_provider:
            # adding a provider never moves the default silently: the first one added becomes it
            # (when none was in use), later ones leave it where it was
            choice = p.name if before == "offline" else before
            await daemon.settings.update({"default_provider": choice})
            llm.registry.chosen = choice
        return _info(cfg, llm.default_provider())

    @router.method("providers.remove")
    async def remove(call, p):
        llm, daemon = call.daemon.llm, call.daemon
        await llm.registry.remove(p.name)
        if llm.registry.chosen == p.name and llm.registry.get(p.name) is None:
            await daemon.settings.update({"default_provider": ""})  # back to the automatic choice
            llm.registry.chosen = ""
        return RemoveResult(removed=p.name)

    @router.method("providers.test")
    async def test(call, p):
        return TestResult(**await call.daemon.llm.test(p.name, p.model))
