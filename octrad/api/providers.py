"""providers.list / set / remove / test, and the ``daemon.llm`` service."""

from __future__ import annotations

from octra_protocol.methods.providers import ListResult, ProviderError, ProviderInfo, RemoveResult, TestResult

from ..providers.service import LLMService


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
        llm = call.daemon.llm
        cfg = await llm.registry.set(p.name, p.kind, p.model, p.base_url, p.api_key, p.timeout_s, p.structured)
        return _info(cfg, llm.default_provider())

    @router.method("providers.remove")
    async def remove(call, p):
        await call.daemon.llm.registry.remove(p.name)
        return RemoveResult(removed=p.name)

    @router.method("providers.test")
    async def test(call, p):
        return TestResult(**await call.daemon.llm.test(p.name, p.model))
