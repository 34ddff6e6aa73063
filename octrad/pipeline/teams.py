"""Stage 2, the teams: each manager staffs its part of the file map, its
workers talk in a group chat, then the workers' own commands run.

A team starts once the teams it depends on (the plan's ``depends_on``) have
finished their chat; the others run in parallel, launched by priority.
Every worker's prompt holds the contract, the repository map and the issue
(on existing code), the current content of the files of its hint that exist
and of those it wrote, of the files it depends on (other teams' included)
and of those the map ranks for its job (by relevance within a budget), and
its peers' files.

Journal steps: ``mN.staff``, ``mN.wK.rR`` (round R), ``mN.wK.<rework tag>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import anyio

from octra_protocol.errors import RpcError

from . import contract, existing, prompts, relevance
from .answers import Plan, Staffing, WorkerBrief, WorkerOutput
from .groupchat import speakers
from .planning import guide_text
from .run import TaskRun

#: characters of other teams' and related files a worker sees, of its own files
#: (whole, so its edits can quote them), and of its peers'
DEPENDS_BUDGET = 24_000
OWN_BUDGET = 60_000
TEAM_BUDGET = 40_000


@dataclass
class Worker:
    index: int
    agent_id: str
    brief: WorkerBrief
    #: latest content of each file this worker wrote
    files: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    done: bool = False
    next: str | None = None

    @property
    def role(self) -> str:
        return self.brief.role

    def as_dict(self) -> dict:
        return {"role": self.brief.role, "description": self.brief.description, "files_hint": self.brief.files_hint}


@dataclass
class Team:
    index: int
    agent_id: str
    brief: Any
    workers: list[Worker] = field(default_factory=list)
    commands: list[dict] = field(default_factory=list)
    approved: bool = False
    feedback: str = ""
    finished: anyio.Event = field(default_factory=anyio.Event)

    @property
    def key(self) -> str:
        return f"m{self.index}"

    @property
    def role(self) -> str:
        return self.brief.role

    def as_dict(self) -> dict:
        return {"role": self.brief.role, "description": self.brief.description}

    def paths(self) -> list[str]:
        return sorted({p for w in self.workers for p in w.files})


def prepare(run: TaskRun, plan: Plan) -> None:
    """What every prompt of the teams shares: the contract text and the guides."""
    run.plan = plan
    run.contract = prompts.contract(plan)
    run.guide = guide_text(run, plan)


async def build(run: TaskRun, plan: Plan) -> list[Team]:
    prepare(run, plan)
    teams = [Team(i, f"{run.task_id}-m{i}", b) for i, b in enumerate(plan.managers, 1)]
    run.teams = teams
    by_role = {t.role: t for t in teams}
    waits = contract.waves_of(plan)
    async with anyio.create_task_group() as tg:
        for team in sorted(teams, key=lambda t: (t.brief.priority, t.index)):
            deps = [by_role[r] for r in waits.get(team.role, []) if r in by_role]
            tg.start_soon(run_team, run, team, deps)
    return teams


async def run_team(run: TaskRun, team: Team, deps: list[Team]) -> None:
    for d in deps:
        await d.finished.wait()
    await run.store.spawn(run.task_id, team.agent_id, run.boss_id, "manager", team.role)
    await staff(run, team)
    await group_chat(run, team)
    await run_commands(run, team)
    team.finished.set()


async def staff(run: TaskRun, team: Team) -> None:
    skills_text = ""
    skills = getattr(run.d, "skills", None)
    if skills is not None:
        found = skills.search(team.role, run.plan.tech_stack, run.description, k=8, categories=run.categories)
        skills_text = "\n".join(f"- {s.fragment.slug} ({s.fragment.area}): {s.fragment.name}" for s in found)
    own = [f"{f.path}: {f.purpose}" for f in run.plan.files if f.owner == team.role]
    staffing = await run.ask(
        team.agent_id, team.role, f"{team.key}.staff",
        prompts.staff(run.description, run.contract, team.as_dict(), skills_text, run.guide,
                      await run.context_block(team.agent_id, team.agent_id), own,
                      issue=run.issue_text, repo_map=run.repo_map),
        Staffing, check=lambda s: contract.problems_staffing(s, team.role, run.plan),
    )
    await run.save_context(team.agent_id, team.agent_id, staffing.context)
    seen: set[str] = set()
    for brief in staffing.workers[: run.opts.max_workers]:
        if brief.role in seen:  # a journal of the previous version may hold duplicates
            continue
        seen.add(brief.role)
        w = Worker(len(team.workers) + 1, f"{team.agent_id}-w{len(team.workers) + 1}", brief)
        team.workers.append(w)
        await run.store.spawn(run.task_id, w.agent_id, team.agent_id, "worker", brief.role)
    if not team.workers:
        raise RpcError.of("provider_error", f"manager {team.role!r} named no workers")


def _depends_on(run: TaskRun, team: Team) -> list[str]:
    """The files of the teams this one depends on (transitively), in the file map's order."""
    roles: set[str] = set()
    todo = [team.role]
    waits = contract.waves_of(run.plan)
    while todo:
        for r in waits.get(todo.pop(), []):
            if r not in roles:
                roles.add(r)
                todo.append(r)
    return [f.path for f in run.plan.files if f.owner in roles]


def _named(text: str, paths: list[str]) -> list[str]:
    """Paths whose module or file name a job's text mentions."""
    out = []
    low = text.lower()
    for p in paths:
        pp = PurePosixPath(p)
        module = ".".join(pp.with_suffix("").parts)
        if p.lower() in low or (len(module) > 3 and module.lower() in low):
            out.append(p)
    return out


async def worker_turn(run: TaskRun, team: Team, w: Worker, step: str, round_no: int, feedback: str = "",
                      earlier: list[str] | None = None) -> bool:
    """One answer of one worker; True when it changed a file."""
    peers = [p for p in team.workers if p is not w]
    team_paths = set(team.paths())
    listed = await run.files_now()
    # its files: what it wrote, and every file of its hint that exists already (it changes those)
    mine = [*dict.fromkeys([*(p for p in w.brief.files_hint if p in listed and p not in team_paths), *w.files])]
    others = [p for p in listed if p not in team_paths and p not in mine]
    job_text = f"{w.brief.description} {' '.join(w.brief.files_hint)}"
    related = await existing.related(run, f"{job_text}\n{run.description}") if run.existing else []
    first = [*_depends_on(run, team), *_named(job_text, others), *(p for p in related if p in others)]
    depends = await anyio.to_thread.run_sync(relevance.pick, run.folder, others, DEPENDS_BUDGET, first)
    own = await anyio.to_thread.run_sync(relevance.pick, run.folder, mine, OWN_BUDGET, mine)
    peer_paths = [p for x in peers for p in x.files]
    peer_files = await anyio.to_thread.run_sync(relevance.pick, run.folder, peer_paths, TEAM_BUDGET // 2, ())
    authors = {p: x.role for x in peers for p in x.files}
    messages = prompts.work(
        run.description, run.contract, team.as_dict(), w.as_dict(), guide=run.guide,
        skills=skill_text(run, w), context=await run.context_block(w.agent_id, team.agent_id),
        depends=relevance.render(depends), own_files=relevance.render(own),
        peer_files=relevance.render(peer_files, authors), round_no=round_no, feedback=feedback,
        peers=[p.role for p in peers] if run.opts.selector == "agent_based" else None, earlier=earlier,
        issue=run.issue_text, repo_map=run.repo_map,
    )
    out = await run.ask(w.agent_id, w.role, step, messages, WorkerOutput,
                        check=lambda a: run.answer_problems(a, f"{job_text}\n{feedback}"))
    accepted = await run.write_answer(w.agent_id, out)
    changed = take(run, team, w, accepted)
    if out.commands:
        w.commands = list(out.commands)
    w.done, w.next = out.done, out.next
    await run.save_context(w.agent_id, team.agent_id, out.context)
    run.record_commit({p: w.files[p] for p, _ in accepted}, f"{team.role}/{w.role}: {w.brief.description[:60]}",
                      f"{w.role} ({team.role})")
    if earlier is not None:
        earlier.append(f"- {w.role}: " + (f"wrote {', '.join(changed)}" if changed else "changed nothing")
                       + ("; done" if out.done else "; not done yet"))
    return bool(changed)


def take(run: TaskRun, team: Team, w: Worker, accepted: list[tuple[str, bool]]) -> list[str]:
    """Record files as ``w``'s (a file has one author: the last to write it); the paths whose
    content is new to ``w``.  Judged against what ``w`` last had, never against the disk: a
    replayed answer finds its files already written, and must steer the chat as it did."""
    changed = []
    for path, _ in accepted:
        text = (run.folder / path).read_text(encoding="utf-8", errors="replace")
        if w.files.get(path) != text:
            changed.append(path)
        w.files[path] = text
        for p in team.workers:
            if p is not w:
                p.files.pop(path, None)
    return changed


def skill_text(run: TaskRun, w: Worker) -> str:
    """The fragments the manager chose for this worker (only of the task's or the Boss's categories, if any)."""
    skills = getattr(run.d, "skills", None)
    if skills is None or not w.brief.skills:
        return ""
    allowed = {f.slug for f in skills.catalog(run.categories)}
    from ..knowledge.skills import format_for_prompt

    chosen = [skills.get(s) for s in dict.fromkeys(w.brief.skills) if s in allowed]
    return format_for_prompt(chosen)


async def group_chat(run: TaskRun, team: Team) -> None:
    """Rounds until every worker is done, a round changes nothing, or ``max_rounds``."""
    for round_no in range(1, run.opts.max_rounds + 1):
        changed: list[str] = []
        if run.opts.selector == "all_at_once":

            async def turn(w: Worker, r: int, out: list[str]) -> None:
                if await worker_turn(run, team, w, f"{team.key}.w{w.index}.r{r}", r):
                    out.append(w.role)

            async with anyio.create_task_group() as tg:
                for w in team.workers:
                    tg.start_soon(turn, w, round_no, changed)
        else:
            said: list[str] = []
            for w in speakers(run.opts.selector, team.workers, round_no):
                if await worker_turn(run, team, w, f"{team.key}.w{w.index}.r{round_no}", round_no, earlier=said):
                    changed.append(w.role)
        await run.log(team.agent_id, f"round {round_no}: {len(changed)} worker(s) changed files",
                      round=round_no, changed=changed)
        if all(w.done for w in team.workers):
            break
        if not changed:
            await run.log(team.agent_id, f"round {round_no} changed nothing: the chat ends", round=round_no)
            break


async def run_commands(run: TaskRun, team: Team) -> None:
    """The workers' own commands, once each (the checks that decide are the plan's, in :mod:`.verify`)."""
    if not run.opts.run_commands:
        return
    seen: set[str] = set()
    team.commands = []
    for w in team.workers:
        for command in w.commands:
            if command not in seen:
                seen.add(command)
                team.commands.append(await run.run_command(w.agent_id, command))


async def rework(run: TaskRun, team: Team, feedback: str, roles: list[str], tag: str) -> None:
    wanted = [w for w in team.workers if not roles or w.role in roles] or team.workers

    async def redo(w: Worker) -> None:
        await run.store.agent_status(run.task_id, w.agent_id, "working", rework=tag)
        await worker_turn(run, team, w, f"{team.key}.w{w.index}.{tag}", 2, feedback=feedback)

    async with anyio.create_task_group() as tg:
        for w in wanted:
            tg.start_soon(redo, w)
    await run_commands(run, team)
