"""Stage 1, the plan: the Boss's contract (teams, file map, checks), through
clarification questions and the approval gate.

Journal steps: ``plan`` then ``plan.N`` for revisions, ``answer.N`` (the
user's answers), ``approval.N`` (the user's verdicts).
"""

from __future__ import annotations

from typing import Any

import msgspec

from octra_protocol.errors import RpcError

from . import baseline, contract, prompts
from .answers import Plan
from .run import TaskRun, Waiting


async def gate(run: TaskRun, planner) -> Plan:
    """The plan, through clarification questions and the approval gate."""
    await run.status("planning")
    rev = 0
    feedback: list[str] = []
    answers: list[tuple[str, str]] = []
    while True:
        plan = await planner(rev, feedback, answers)
        if plan.questions and not plan.managers:
            answer = await run.store.step(run.task_id, f"answer.{rev}")
            if answer is None:
                await run.store.update(run.task_id, questions=plan.questions)
                await run.store.agent_status(run.task_id, run.boss_id, "waiting")
                raise Waiting("awaiting_input")
            text = msgspec.json.decode(answer)["content"]
            answers.append(("\n".join(plan.questions), text))
            rev += 1
            continue
        if not plan.managers:  # a journal of the previous version may hold such a plan
            raise RpcError.of("provider_error", "the recorded plan names no managers and asks no questions; "
                                                "start a new task (this one cannot be resumed)")
        if run.baseline_checks:  # the repository's own checks decide too
            plan = baseline.merged(plan, run.baseline_checks)
        stack = run.stack or plan.tech_stack or None
        await run.store.update(run.task_id, plan=msgspec.to_builtins(plan), questions=[], stack=stack)
        await run.d.db.execute("UPDATE projects SET stack = COALESCE(stack, ?) WHERE id = ?", (stack, run.project_id))
        if run.opts.approve_plan:
            approval = await run.store.step(run.task_id, f"approval.{rev}")
            if approval is None:
                await run.store.agent_status(run.task_id, run.boss_id, "waiting")
                raise Waiting("awaiting_approval")
            verdict = msgspec.json.decode(approval)
            if not verdict["approved"]:
                if not verdict.get("feedback"):
                    raise RpcError.of("conflict", "the plan was rejected")
                feedback.append(verdict["feedback"])
                rev += 1
                continue
        if not run.categories and plan.skill_categories:
            run.categories = list(plan.skill_categories)  # the Boss's choice, when the task made none
        return plan


def _areas(run: TaskRun) -> list[str] | None:
    skills = getattr(run.d, "skills", None)
    return sorted({s.area for s in skills.catalog(None)}) if skills is not None else None


async def ask_plan(run: TaskRun, rev: int, feedback: list[str], answers: list[tuple[str, str]]) -> Plan:
    skills = getattr(run.d, "skills", None)
    guides = getattr(run.d, "guides", None)
    catalog = ""
    if skills is not None:
        catalog = "\n".join(f"- {s.slug} ({s.area}): {s.name}" for s in skills.catalog(run.categories))
    guide_list = "\n".join(f"- {g.tool}: {g.description}" for g in guides.all()) if guides else ""
    fitting = guides_for(run, run.stack or "", k=3)
    guide_checks = "\n".join(
        f"{g.tool}: " + "; ".join(f"{c.name}: {c.command}" for c in contract.checks_from_guide(g, run.project_name))
        for g in fitting
    )
    step = "plan" if rev == 0 else f"plan.{rev}"
    messages = prompts.plan(
        run.description, stack=run.stack, catalog=catalog, guides=guide_list, guide_checks=guide_checks,
        context=await run.context_block(run.boss_id), feedback=feedback, answers=answers,
        repo_map=run.repo_map, issue=run.issue_text,
        baseline=prompts.checks_text(run.baseline) if run.baseline else "",
    )
    areas = None if run.opts.skill_categories else _areas(run)
    plan = await run.ask(run.boss_id, "boss", step, messages, Plan, check=lambda p: contract.problems_plan(p, areas))
    await run.save_context(run.boss_id, None, plan.context)
    return plan


def guides_for(run: TaskRun, stack: str, k: int = 3) -> list[Any]:
    """The guides of a stack, one per named part of a mixed stack ("python + typescript"),
    else the ones the description names."""
    guides = getattr(run.d, "guides", None)
    if guides is None:
        return []
    found: list[Any] = []
    text = stack.lower()
    tokens = [text] if text else []
    for sep in ("/", ",", "+", "&", " and ", " "):
        text = text.replace(sep, " ")
    tokens += text.split()
    for token in tokens:
        hit = guides.for_stack(token)
        if hit and hit[0] not in found:
            found.append(hit[0])
    if not found:
        found = [m.guide for m in guides.match(f"{stack} {run.description}", k=k)]
    return found[:k]


def guide_text(run: TaskRun, plan: Plan) -> str:
    """The tool guides of the plan's stack, for the prompts (several for a mixed stack)."""
    from ..knowledge.guides import format_for_prompt

    found = guides_for(run, run.stack or plan.tech_stack or "")
    return "\n\n".join(format_for_prompt(g, run.project_name) for g in found)
