"""task.create / list / get / cancel / resume / approve / message."""

from __future__ import annotations

from ..pipeline.service import TaskService


async def setup(daemon) -> None:
    daemon.tasks = TaskService(daemon)
    await daemon.tasks.start()


async def teardown(daemon) -> None:
    await daemon.tasks.stop()


def register(router) -> None:
    @router.method("task.create")
    async def create(call, p):
        return await call.daemon.tasks.create(p)

    @router.method("task.list")
    async def list_(call, p):
        project_id = (await call.daemon.projects.resolve(p.project)).id if p.project else None
        return {"tasks": await call.daemon.tasks.store.list(status=p.status, project_id=project_id, limit=p.limit)}

    @router.method("task.get")
    async def get(call, p):
        return await call.daemon.tasks.get(p.task_id)

    @router.method("task.cancel")
    async def cancel(call, p):
        await call.daemon.tasks.cancel(p.task_id)
        return {}

    @router.method("task.resume")
    async def resume(call, p):
        await call.daemon.tasks.resume(p.task_id, p.meta)
        return {}

    @router.method("task.approve")
    async def approve(call, p):
        await call.daemon.tasks.approve(p.task_id, p.approved, p.feedback)
        return {}

    @router.method("task.message")
    async def message(call, p):
        return {"task_id": await call.daemon.tasks.message(p.task_id, p.content)}
