"""github.status / github.set_token; creates ``daemon.github`` (the hooks the
pipeline calls: see octrad.github.service)."""

from __future__ import annotations

from ..github.service import GitHubService


async def setup(daemon) -> None:
    daemon.github = GitHubService(daemon)


def register(router) -> None:
    @router.method("github.status")
    async def status(call, p):
        return await call.daemon.github.status(p.check)

    @router.method("github.set_token")
    async def set_token(call, p):
        return await call.daemon.github.set_token(p.token, p.check)
