"""project.snapshots, project.restore, project.gc; creates ``daemon.snapshots``
(see octrad.snapshots.service for the contract the pipeline codes against)."""

from __future__ import annotations

from pathlib import Path

from ..snapshots.service import SnapshotService


async def setup(daemon) -> None:
    tg = daemon.tg
    daemon.snapshots = SnapshotService(
        daemon.db,
        gcroots_dir=daemon.config.gcroots_dir,
        work_dir=Path(daemon.config.data_dir) / "tmp",
        publish=daemon.bus.publish,
        spawn=tg.start_soon if tg is not None else None,
    )


def register(router) -> None:
    @router.method("project.snapshots")
    async def snapshots(call, p):
        project = await call.daemon.projects.resolve(p.project)
        return {"snapshots": await call.daemon.snapshots.list_for_project(project.id)}

    @router.method("project.restore")
    async def restore(call, p):
        return {"path": await call.daemon.snapshots.restore(p.task_id, p.dest)}

    @router.method("project.gc")
    async def gc(call, p):
        project_id = (await call.daemon.projects.resolve(p.project)).id if p.project else None
        return await call.daemon.snapshots.gc(p.keep, project_id)
