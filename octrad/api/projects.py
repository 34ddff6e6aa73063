"""project.list (snapshots and restore live in their own area)."""

from __future__ import annotations

from ..projects import Projects


async def setup(daemon) -> None:
    daemon.projects = Projects(daemon.db, daemon.config.projects_dir)


def register(router) -> None:
    @router.method("project.list")
    async def list_(call, p):
        return {"projects": await call.daemon.projects.list()}
