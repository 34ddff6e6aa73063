"""context.list / context.add / context.forget / context.prompt, and the
``daemon.context`` service the pipeline uses (see octrad.knowledge.context)."""

from __future__ import annotations

from contextlib import contextmanager

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


@contextmanager
def _invalid_params():
    """The service's ContextError is the caller's bad input: -32602 with its message."""
    try:
        yield
    except ContextError as exc:
        raise RpcError.of("invalid_params", str(exc), detail=str(exc)) from None


def register(router) -> None:
    @router.method("context.list")
    async def list_(call, p):
        project = await call.daemon.projects.resolve(p.project)
        with _invalid_params():
            entries = await call.daemon.context.list(project.id, p.scope, p.include_forgotten)
        return ContextListResult(entries=entries)

    @router.method("context.add")
    async def add(call, p):
        project = await call.daemon.projects.resolve(p.project)
        with _invalid_params():
            entry = await call.daemon.context.add(
                project.id, p.scope, p.type, p.content, important=p.important, source_agent="user", target=p.target
            )
        return ContextAddResult(entry=entry)

    @router.method("context.forget")
    async def forget(call, p):
        project = await call.daemon.projects.resolve(p.project)
        with _invalid_params():
            n = await call.daemon.context.forget(project.id, p.match)
        return ContextForgetResult(forgotten=n)

    @router.method("context.prompt")
    async def prompt(call, p):
        project = await call.daemon.projects.resolve(p.project)
        block = await call.daemon.context.for_prompt(
            project.id, agent=p.agent, team=p.team, budget_chars=p.budget_chars or DEFAULT_BUDGET
        )
        return ContextPromptResult(prompt=block)
