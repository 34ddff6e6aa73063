"""context.list / context.add / context.forget / context.prompt, and the
``daemon.context`` service the pipeline uses (see octrad.knowledge.context)."""

from __future__ import annotations

from octra_protocol.errors import RpcError
from octra_protocol.methods.context import (
    ContextAddResult,
    ContextForgetResult,
    ContextListResult,
    ContextPromptResult,
)

from ..knowledge.context import DEFAULT_BUDGET, ContextError, ContextService


async def setup(daemon) -> None:
    daemon.context = ContextService(daemon.db, bus=daemon.bus)


def _invalid(exc: ContextError) -> RpcError:
    return RpcError.of("invalid_params", str(exc), detail=str(exc))


def register(router) -> None:
    @router.method("context.list")
    async def list_(call, p):
        project = await call.daemon.projects.resolve(p.project)
        try:
            entries = await call.daemon.context.list(project.id, p.scope, p.include_forgotten)
        except ContextError as exc:
            raise _invalid(exc) from None
        return ContextListResult(entries=entries)

    @router.method("context.add")
    async def add(call, p):
        project = await call.daemon.projects.resolve(p.project)
        try:
            entry = await call.daemon.context.add(
                project.id, p.scope, p.type, p.content, important=p.important, source_agent="user", target=p.target
            )
        except ContextError as exc:
            raise _invalid(exc) from None
        return ContextAddResult(entry=entry)

    @router.method("context.forget")
    async def forget(call, p):
        project = await call.daemon.projects.resolve(p.project)
        try:
            n = await call.daemon.context.forget(project.id, p.match)
        except ContextError as exc:
            raise _invalid(exc) from None
        return ContextForgetResult(forgotten=n)

    @router.method("context.prompt")
    async def prompt(call, p):
        project = await call.daemon.projects.resolve(p.project)
        block = await call.daemon.context.for_prompt(
            project.id, agent=p.agent, team=p.team, budget_chars=p.budget_chars or DEFAULT_BUDGET
        )
        return ContextPromptResult(prompt=block)
