"""Stages 4 and 5, review and validation: each manager reviews its team's work,
then the Boss the whole project; both see the contract, the checks as Octra
ran them, and files chosen by relevance within a budget (sources before
lock, generated and vendored files, which are only summarised).  Rework
changes files, so verification runs again after it.

Journal steps: ``mN.review.R``, ``mN.review.vV.R`` (after the Boss's
rejection V), ``validate.V``; reworks ``mN.wK.reworkR`` / ``mN.wK.validV``.
"""

from __future__ import annotations

import anyio

from . import prompts, relevance, verify
from .answers import Review, Validation
from .run import TaskRun
from .teams import Team, rework

REVIEW_BUDGET = 40_000
VALIDATE_BUDGET = 60_000


async def managers(run: TaskRun, teams: list[Team]) -> None:
    """Every team's review (and rework) in parallel; checks again when anything was reworked."""
    reworked: list[bool] = []

    async def one(t: Team) -> None:
        reworked.append(await review_loop(run, t))
        for w in t.workers:
            await run.store.agent_status(run.task_id, w.agent_id, "done")
        await run.store.agent_status(run.task_id, t.agent_id, "done", approved=t.approved)

    async with anyio.create_task_group() as tg:
        for t in teams:
            tg.start_soon(one, t)
    if any(reworked):
        await verify.run(run, "verify.review")


async def review_loop(run: TaskRun, team: Team, tag: str = "", boss_feedback: str = "") -> bool:
    """Review, rework while rejected (bounded); whether anything was reworked."""
    did = False
    for r in range(1, run.opts.max_rework + 2):
        listed = await run.files_now()
        files = await anyio.to_thread.run_sync(relevance.pick, run.folder, listed, REVIEW_BUDGET, team.paths())
        review = await run.ask(
            team.agent_id, team.role, f"{team.key}.review{tag}.{r}",
            prompts.review(run.description, run.contract, team.as_dict(), [w.as_dict() for w in team.workers],
                           relevance.render(files), prompts.checks_text(run.checks), team.commands,
                           await run.context_block(team.agent_id, team.agent_id), boss_feedback,
                           issue=run.issue_text),
            Review,
        )
        team.approved, team.feedback = review.approved, review.feedback
        await run.d.bus.publish(
            "review.verdict",
            {"by": "manager", "role": team.role, "round": r, "approved": review.approved,
             "feedback": review.feedback, "rework": review.rework},
            task_id=run.task_id, agent_id=team.agent_id,
        )
        if review.approved or r > run.opts.max_rework:
            return did
        await rework(run, team, review.feedback, review.rework, f"rework{tag}.{r}")
        did = True
    return did


async def validate(run: TaskRun, teams: list[Team]) -> None:
    rounds = run.opts.max_validation_rounds
    for v in range(1, rounds + 2):
        listed = await run.files_now()
        files = await anyio.to_thread.run_sync(relevance.pick, run.folder, listed, VALIDATE_BUDGET,
                                               [f.path for f in run.plan.files])
        verdict = await run.ask(
            run.boss_id, "boss", f"validate.{v}",
            prompts.validate(run.description, run.contract, relevance.render(files),
                             [{**t.as_dict(), "approved": t.approved, "feedback": t.feedback} for t in teams],
                             prompts.checks_text(run.checks), await run.context_block(run.boss_id),
                             issue=run.issue_text),
            Validation,
        )
        await run.d.bus.publish(
            "review.verdict",
            {"by": "boss", "round": v, "approved": verdict.approved, "feedback": verdict.feedback,
             "failing_managers": verdict.failing_managers},
            task_id=run.task_id, agent_id=run.boss_id,
        )
        if verdict.approved:
            return
        if v > rounds:
            await run.note(f"the Boss did not approve the result after {rounds} rework round(s): {verdict.feedback}")
            return
        failing = [t for t in teams if t.role in verdict.failing_managers] or teams

        async with anyio.create_task_group() as tg:
            for t in failing:
                tg.start_soon(_redo, run, t, v, verdict.feedback)
        await verify.run(run, f"verify.v{v}")


async def _redo(run: TaskRun, t: Team, v: int, feedback: str) -> None:
    """A team's answer to the Boss's rejection ``v``: rework with the feedback, then its manager's review."""
    await run.store.agent_status(run.task_id, t.agent_id, "working", validation=v)
    await rework(run, t, feedback, [], f"valid{v}")
    await review_loop(run, t, tag=f".v{v}", boss_feedback=feedback)
    await run.store.agent_status(run.task_id, t.agent_id, "done", approved=t.approved)
