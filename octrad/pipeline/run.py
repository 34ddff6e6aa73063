"""One run of one task: plan, build in teams, validate, commit, snapshot.

Every AI answer goes through :meth:`TaskRun.ask`, which answers from the
journal when the step was completed before (resume, approval, answers) and
records each new validated answer.  Everything with a side effect (files,
commits, commands) is idempotent, so replaying a run from its journal lands
in the same place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

import anyio
import msgspec

from octra_protocol.errors import RpcError

from . import gitrepo, prompts
from .answers import Fix, Plan, Review, Staffing, Validation, WorkerBrief, WorkerOutput
from .files import UnsafePath, project_files, read_files, write_file
from .groupchat import speakers

log = logging.getLogger(__name__)
T = TypeVar("T")

Count = Annotated[int, msgspec.Meta(ge=0, le=20)]


class Options(msgspec.Struct, kw_only=True):
    """The task flags (``meta``), typed; unknown keys pass through untouched."""

    approve_plan: bool = False
    skill_categories: Union[list[str], None] = None
    selector: Literal["all_at_once", "round_robin", "role_based", "agent_based"] = "all_at_once"
    max_rounds: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    max_rework: Count = 1
    max_validation_rounds: Count = 1
    max_fix_attempts: Count = 2
    max_workers: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    run_commands: bool = True
    temperature: Union[Annotated[float, msgspec.Meta(ge=0, le=2)], None] = None
    # read elsewhere, checked here so a bad value fails at task.create:
    # budgets (octrad.providers.budget), replay, GitHub (octrad.github.service)
    max_llm_calls: Union[Annotated[int, msgspec.Meta(ge=0)], None] = None
    max_tokens: Union[Annotated[int, msgspec.Meta(ge=0)], None] = None
    max_cost_usd: Union[Annotated[float, msgspec.Meta(ge=0)], None] = None
    replay_from: Union[str, None] = None
    publish_repositories: Union[bool, None] = None
    create_pull_requests: Union[bool, None] = None
    private_repository: Union[bool, None] = None
    github_fork_timeout_s: Union[Annotated[float, msgspec.Meta(gt=0, le=3600)], None] = None


def options(meta: dict) -> Options:
    """The flags of ``meta``, checked: a wrong one is an invalid_params error naming it."""
    try:
        return msgspec.convert(meta, Options)
    except msgspec.ValidationError as exc:
        raise RpcError.of("invalid_params", f"meta: {exc}".replace("$.", "meta.")) from None


class Waiting(Exception):
    """The run stops here until the user acts (approval or answers)."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


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

    @property
    def key(self) -> str:
        return f"m{self.index}"

    def as_dict(self) -> dict:
        return {"role": self.brief.role, "description": self.brief.description}


class TaskRun:
    def __init__(self, daemon: Any, task_id: str):
        self.d = daemon
        self.store = daemon.tasks.store
        self.task_id = task_id
        self.repo: gitrepo.ProjectRepo | None = None

    # -- set-up -------------------------------------------------------------
    async def load(self) -> None:
        row = await self.store.row(self.task_id)
        self.row = row
        self.project_id = row["project_id"]
        self.project_name = row["project_name"]
        self.folder = Path(row["project_path"])
        self.description = row["description"]
        self.provider = row["provider"]
        self.model = row["model"]
        self.stack = row["stack"]
        self.meta: dict[str, Any] = msgspec.json.decode(row["meta"] or "{}")
        #: how the commands ran so far: None (none yet), "bwrap", or "none" once one ran unsandboxed
        self.sandbox: str | None = row["sandbox"]
        self.opts = options(self.meta)
        self.categories = self.opts.skill_categories or None
        self.boss_id = f"{self.task_id}-boss"
        self.settings = await self.d.settings.get()
        #: what the Boss is told about a GitHub issue (set by the GitHub service's prepare)
        self.issue_text = ""

    async def status(self, status: str, **data: Any) -> None:
        await self.store.set_status(self.task_id, status, **data)

    async def log(self, agent_id: str | None, text: str, level: str = "info", **data: Any) -> None:
        await self.d.bus.publish("agent.log", {"level": level, "text": text, **data}, task_id=self.task_id, agent_id=agent_id)

    async def note(self, text: str) -> None:
        await self.store.add_note(self.task_id, text)
        await self.log(None, text, level="note")

    async def prepare_folder(self) -> None:
        """The project's working folder: as left, or restored from its latest snapshot
        (an issue's repository is cloned or updated by the GitHub service)."""
        gh = self.d.github
        if gh.issue_url(self) is not None:
            await gh.prepare(self)
            return
        snaps = getattr(self.d, "snapshots", None)
        latest = await snaps.start_from_latest(self.project_id, self.folder) if snaps else None
        if latest is not None:
            await self.log(None, f"restored the project from its snapshot of task {latest['task_id']}")
        self.folder.mkdir(parents=True, exist_ok=True)

    # -- asking -------------------------------------------------------------
    async def ask(self, agent_id: str, role: str, step: str, messages: list[dict], answer_type: type[T]) -> T:
        cached = await self.store.step(self.task_id, step)
        if cached is not None:
            return msgspec.json.decode(cached, type=answer_type)
        from ..providers.types import CallSite

        site = CallSite(task_id=self.task_id, agent_id=agent_id, role=role, step=step, meta=self.meta)
        answer = await self.d.llm.ask(site, messages, answer_type, provider=self.provider, model=self.model,
                                      temperature=self.opts.temperature)
        await self.store.record(self.task_id, step, answer.value)
        return answer.value

    async def context_block(self, agent_id: str | None = None, team: str | None = None) -> str:
        ctx = getattr(self.d, "context", None)
        if ctx is None:
            return ""
        return await ctx.for_prompt(self.project_id, agent=agent_id, team=team)

    async def save_context(self, agent_id: str, team: str | None, note: Any) -> None:
        ctx = getattr(self.d, "context", None)
        if note is None or ctx is None:
            return
        entry = msgspec.to_builtins(note)
        if team is None and entry.get("scope") == "team":
            entry["scope"] = "global"  # the Boss has no team: its notes are for everyone
        try:
            await ctx.save_from_answer(self.project_id, agent_id, team, entry, task_id=self.task_id)
        except ValueError as exc:  # an AI's malformed note is reported, never fatal (it would replay on resume)
            await self.log(agent_id, f"context note not saved: {exc}", level="warning")

    # -- files and git ------------------------------------------------------
    async def write(self, agent_id: str, files: list[Any]) -> list[tuple[str, bool]]:
        """Write an answer's files: (path, changed?) for each accepted one; rejected paths are reported and skipped."""
        accepted: list[tuple[str, bool]] = []
        for f in files:
            try:
                path, changed = write_file(self.folder, f.path, f.content)
            except UnsafePath as exc:
                await self.log(agent_id, f"rejected file: {exc}", level="warning", path=f.path[:300])
                continue
            except OSError as exc:
                await self.log(agent_id, f"could not write {f.path!r}: {exc.strerror}", level="warning")
                continue
            accepted.append((path, changed))
            if changed:
                await self.d.bus.publish(
                    "file.written", {"path": path, "bytes": len(f.content.encode())}, task_id=self.task_id, agent_id=agent_id
                )
        return accepted

    def take(self, team: "Team", w: "Worker", accepted: list[tuple[str, bool]]) -> list[str]:
        """Record files as ``w``'s (a file has one author: the last to write it); the changed paths."""
        for path, _ in accepted:
            w.files[path] = (self.folder / path).read_text(encoding="utf-8", errors="replace")
            for p in team.workers:
                if p is not w:
                    p.files.pop(path, None)
        return [path for path, changed in accepted if changed]

    def git(self) -> gitrepo.ProjectRepo:
        if self.repo is None:
            self.repo = gitrepo.ProjectRepo(self.folder)
        return self.repo

    async def commit_all(self, message: str, author: str) -> str | None:
        """Commit everything as it is on disk now (after any queued commits)."""
        return await self.git().commit_all(message, author)

    def record_commit(self, w: "Worker", team: "Team", accepted: list[tuple[str, bool]], message: str) -> None:
        """Queue a commit of ``w``'s current contents of the files it wrote (git runs in
        the background; nothing is committed for what HEAD already holds).  Unchanged
        files too: after a crash between a write and its queued commit, the replayed
        answer finds its files already on disk, and they are still ``w``'s to commit."""
        if accepted:
            self.git().record({p: w.files[p].encode() for p, _ in accepted}, message, f"{w.role} ({team.brief.role})")

    # -- commands -----------------------------------------------------------
    async def run_command(self, agent_id: str, command: str) -> dict:
        from ..scaffold.executor import BadCommand, executor_for
        from ..scaffold.sandbox import SandboxUnavailable

        await self.d.bus.publish("command.started", {"command": command}, task_id=self.task_id, agent_id=agent_id)
        try:
            res = await (await executor_for(self.d)).run(command, self.folder)
        except SandboxUnavailable as exc:
            raise RpcError.of("unavailable", f"cannot run `{command}`: {exc}") from None
        except BadCommand as exc:
            out = {"command": command, "exit_code": -1, "timed_out": False, "duration_s": 0.0,
                   "output_tail": f"refused: {exc}", "sandbox": "none", "nix": False}
            await self.d.bus.publish("command.finished", out, task_id=self.task_id, agent_id=agent_id)
            return out
        out = {
            "command": command, "exit_code": res.exit_code, "timed_out": res.timed_out,
            "duration_s": round(res.duration_s, 3), "output_tail": res.output_tail[-4000:],
            "sandbox": res.sandbox, "nix": res.nix_used, "network": res.network, "notes": res.notes,
        }
        await self.record_sandbox(agent_id, res)
        await self.d.bus.publish("command.finished", out, task_id=self.task_id, agent_id=agent_id)
        return out

    async def record_sandbox(self, agent_id: str, res: Any) -> None:
        """Task.sandbox: "none" from the first command that ran unsandboxed, which
        is said loudly (a warning event and a note in the summary), else "bwrap"."""
        if res.sandbox == "none" and self.sandbox != "none":
            why = next((n for n in res.notes if "unsandboxed" in n), "commands run unsandboxed")
            await self.log(agent_id, f"warning: {why}; they can read and write whatever this user can", level="warning")
            await self.store.add_note(self.task_id, why)
        if self.sandbox != "none" and self.sandbox != res.sandbox:
            self.sandbox = res.sandbox
            await self.store.update(self.task_id, sandbox=res.sandbox)

    # -- the whole run ------------------------------------------------------
    async def execute(self) -> None:
        try:
            await self._execute()
        finally:
            if self.repo is not None:
                await self.repo.aclose()

    async def _execute(self) -> None:
        await self.load()
        await self.prepare_folder()
        await self.store.spawn(self.task_id, self.boss_id, None, "boss", "boss")
        if self.provider == "offline":
            from .offline import OfflineBuild

            plan = await self.plan_gate(OfflineBuild(self).plan)
            await self.status("building")
            await OfflineBuild(self).build(plan)
        else:
            plan = await self.plan_gate(self.ai_plan)
            await self.status("building")
            teams = await self.build_teams(plan)
            await self.status("validating")
            await self.validate(plan, teams)
        await self.store.agent_status(self.task_id, self.boss_id, "done")
        await self.finish()

    async def finish(self) -> None:
        sha = await self.commit_all("octra: the rest of the project", "octra")
        if sha:
            await self.log(None, f"committed remaining files ({sha[:10]})")
        if self.repo is not None:  # its git helpers must not outlive the folder
            await self.repo.aclose()
            self.repo = None
        await self.status("snapshotting")
        await self.snapshot()
        await self.publish()

    async def snapshot(self) -> None:
        snaps = getattr(self.d, "snapshots", None)
        if snaps is None:
            await self.note(f"snapshots are unavailable in this daemon; the project stays in {self.folder}")
            return
        try:
            info = await snaps.snapshot(self.project_id, self.task_id, self.folder)
        except RpcError as exc:
            if exc.kind == "unavailable":
                await self.note(f"snapshot skipped: {exc.message}; the project stays in {self.folder}")
                return
            raise
        await self.store.update(self.task_id, store_path=info.store_path)

    async def publish(self) -> None:
        """Hand the result to GitHub when the task or the settings ask for it."""
        gh = self.d.github
        if gh.wants_publish(self):
            await self.status("publishing")
            await gh.publish(self)

    # -- planning -----------------------------------------------------------
    async def plan_gate(self, planner) -> Plan:
        """The plan, through clarification questions and the approval gate."""
        await self.status("planning")
        rev = 0
        feedback: list[str] = []
        answers: list[tuple[str, str]] = []
        while True:
            plan = await planner(rev, feedback, answers)
            if plan.questions and not plan.managers:
                answer = await self.store.step(self.task_id, f"answer.{rev}")
                if answer is None:
                    await self.store.update(self.task_id, questions=plan.questions)
                    await self.store.agent_status(self.task_id, self.boss_id, "waiting")
                    raise Waiting("awaiting_input")
                text = msgspec.json.decode(answer)["content"]
                answers.append(("\n".join(plan.questions), text))
                rev += 1
                continue
            if not plan.managers:
                raise RpcError.of("provider_error", "the plan names no managers and asks no questions")
            stack = self.stack or plan.tech_stack or None
            await self.store.update(self.task_id, plan=msgspec.to_builtins(plan), questions=[], stack=stack)
            await self.d.db.execute("UPDATE projects SET stack = COALESCE(stack, ?) WHERE id = ?", (stack, self.project_id))
            if self.opts.approve_plan:
                approval = await self.store.step(self.task_id, f"approval.{rev}")
                if approval is None:
                    await self.store.agent_status(self.task_id, self.boss_id, "waiting")
                    raise Waiting("awaiting_approval")
                verdict = msgspec.json.decode(approval)
                if not verdict["approved"]:
                    if not verdict.get("feedback"):
                        raise RpcError.of("conflict", "the plan was rejected")
                    feedback.append(verdict["feedback"])
                    rev += 1
                    continue
            return plan

    async def ai_plan(self, rev: int, feedback: list[str], answers: list[tuple[str, str]]) -> Plan:
        skills = getattr(self.d, "skills", None)
        guides = getattr(self.d, "guides", None)
        catalog = ""
        if skills is not None:
            catalog = "\n".join(f"- {s.slug} ({s.area}): {s.name}" for s in skills.catalog(self.categories))
        guide_list = "\n".join(f"- {g.tool}: {g.description}" for g in guides.all()) if guides else ""
        step = "plan" if rev == 0 else f"plan.{rev}"
        messages = prompts.plan(
            self.description, stack=self.stack, catalog=catalog, guides=guide_list,
            context=await self.context_block(self.boss_id), feedback=feedback, answers=answers,
            existing_files=await anyio.to_thread.run_sync(project_files, self.folder, 300), issue=self.issue_text,
        )
        plan = await self.ask(self.boss_id, "boss", step, messages, Plan)
        await self.save_context(self.boss_id, None, plan.context)
        return plan

    def guide_text(self, plan: Plan) -> str:
        guides = getattr(self.d, "guides", None)
        if guides is None:
            return ""
        from ..knowledge.guides import format_for_prompt

        stack = (self.stack or plan.tech_stack or "").lower()
        found = []
        for token in [stack, *stack.replace("/", " ").replace(",", " ").split()]:
            if token:
                found = guides.for_stack(token)
                if found:
                    break
        if not found:
            found = [m.guide for m in guides.match(f"{stack} {self.description}", k=1)]
        return format_for_prompt(found[0], self.project_name) if found else ""

    # -- teams --------------------------------------------------------------
    async def build_teams(self, plan: Plan) -> list[Team]:
        self.plan = plan
        self.plan_json = prompts.as_json(plan)
        self.guide = self.guide_text(plan)
        briefs = sorted(enumerate(plan.managers, 1), key=lambda x: (x[1].priority, x[0]))
        teams = [Team(i, f"{self.task_id}-m{i}", b) for i, b in briefs]
        async with anyio.create_task_group() as tg:
            for team in teams:
                tg.start_soon(self.run_team, team)
        return teams

    async def run_team(self, team: Team) -> None:
        await self.store.spawn(self.task_id, team.agent_id, self.boss_id, "manager", team.brief.role)
        skills_text = ""
        skills = getattr(self.d, "skills", None)
        if skills is not None:
            found = skills.search(team.brief.role, self.plan.tech_stack, self.description, k=8, categories=self.categories)
            skills_text = "\n".join(f"- {s.fragment.slug} ({s.fragment.area}): {s.fragment.name}" for s in found)
        staffing = await self.ask(
            team.agent_id, team.brief.role, f"{team.key}.staff",
            prompts.staff(self.description, self.plan_json, team.as_dict(), skills_text, self.guide,
                          await self.context_block(team.agent_id, team.agent_id)),
            Staffing,
        )
        await self.save_context(team.agent_id, team.agent_id, staffing.context)
        seen: set[str] = set()
        for brief in staffing.workers[: self.opts.max_workers]:
            if brief.role in seen:
                continue
            seen.add(brief.role)
            w = Worker(len(team.workers) + 1, f"{team.agent_id}-w{len(team.workers) + 1}", brief)
            team.workers.append(w)
            await self.store.spawn(self.task_id, w.agent_id, team.agent_id, "worker", brief.role)
        if not team.workers:
            raise RpcError.of("provider_error", f"manager {team.brief.role!r} named no workers")
        await self.group_chat(team)
        await self.run_commands(team, tag="build")
        await self.review_loop(team)
        for w in team.workers:
            await self.store.agent_status(self.task_id, w.agent_id, "done")
        await self.store.agent_status(self.task_id, team.agent_id, "done", approved=team.approved)
        ctx = getattr(self.d, "context", None)
        if ctx is not None:
            await ctx.end_team(self.project_id, team.agent_id)

    async def worker_turn(self, team: Team, w: Worker, step: str, round_no: int, feedback: str = "") -> bool:
        """One answer of one worker; True when it changed a file."""
        peers = [p for p in team.workers if p is not w]
        peer_files = [(p.role, path, text) for p in peers for path, text in p.files.items()]
        messages = prompts.work(
            self.description, self.plan_json, team.as_dict(), w.as_dict(), guide=self.guide,
            skills=self.skill_text(w), context=await self.context_block(w.agent_id, team.agent_id),
            own_files=list(w.files.items()), peer_files=peer_files, round_no=round_no, feedback=feedback,
            peers=[p.role for p in peers] if self.opts.selector == "agent_based" else None,
        )
        out = await self.ask(w.agent_id, w.role, step, messages, WorkerOutput)
        accepted = await self.write(w.agent_id, out.files)
        changed = self.take(team, w, accepted)
        if out.commands:
            w.commands = list(out.commands)
        w.done, w.next = out.done, out.next
        await self.save_context(w.agent_id, team.agent_id, out.context)
        self.record_commit(w, team, accepted, f"{team.brief.role}/{w.role}: {w.brief.description[:60]}")
        return bool(changed)

    def skill_text(self, w: Worker) -> str:
        """The fragments the manager chose for this worker (only of the task's categories, if any)."""
        skills = getattr(self.d, "skills", None)
        if skills is None or not w.brief.skills:
            return ""
        allowed = {f.slug for f in skills.catalog(self.categories)}
        from ..knowledge.skills import format_for_prompt

        chosen = [skills.get(s) for s in dict.fromkeys(w.brief.skills) if s in allowed]
        return format_for_prompt(chosen)

    async def group_chat(self, team: Team) -> None:
        max_rounds = self.opts.max_rounds
        for round_no in range(1, max_rounds + 1):
            if round_no == 1 or self.opts.selector == "all_at_once":
                changed = []

                async def turn(w: Worker) -> None:
                    if await self.worker_turn(team, w, f"{team.key}.w{w.index}.r{round_no}", round_no):
                        changed.append(w.role)

                async with anyio.create_task_group() as tg:
                    for w in team.workers:
                        tg.start_soon(turn, w)
            else:
                changed = []
                for w in speakers(self.opts.selector, team.workers, round_no):
                    if await self.worker_turn(team, w, f"{team.key}.w{w.index}.r{round_no}", round_no):
                        changed.append(w.role)
            await self.log(team.agent_id, f"round {round_no}: {len(changed)} worker(s) changed files",
                           round=round_no, changed=changed)
            if all(w.done for w in team.workers):
                break
            if round_no > 1 and not changed:
                break

    async def run_commands(self, team: Team, tag: str) -> None:
        """Run the workers' commands; a failing one goes back to its worker for fixed files (bounded)."""
        if not self.opts.run_commands:
            return
        seen: set[str] = set()
        team.commands = []
        for w in team.workers:
            for n, command in enumerate(w.commands, 1):
                if command not in seen:
                    seen.add(command)
                    team.commands.append(await self.run_with_fixes(team, w, command, f"{team.key}.w{w.index}.{tag}.cmd{n}"))

    async def run_with_fixes(self, team: Team, w: Worker, command: str, step: str) -> dict:
        """The auto-fix loop: run; on failure ask the worker for fixes, write and commit them, run again.
        The outcome is an ``agent.log`` event with structured ``autofix`` data either way."""
        result = await self.run_command(w.agent_id, command)
        attempt = 0
        while result["exit_code"] != 0 and attempt < self.opts.max_fix_attempts:
            attempt += 1
            files = await anyio.to_thread.run_sync(read_files, self.folder, sorted({p for x in team.workers for p in x.files}))
            fix = await self.ask(
                w.agent_id, w.role, f"{step}.fix{attempt}",
                prompts.fix(w.as_dict(), command, result["exit_code"], result["output_tail"], files, self.guide), Fix,
            )
            accepted = await self.write(w.agent_id, fix.files)
            self.take(team, w, accepted)
            self.record_commit(w, team, accepted, f"{team.brief.role}/{w.role}: fix `{command[:50]}`: {fix.explanation[:60]}")
            result = await self.run_command(w.agent_id, command)
        ok = result["exit_code"] == 0
        status = "passed" if ok and not attempt else "fixed" if ok else "failed"
        text = {"passed": f"`{command}` passes", "fixed": f"`{command}` passes after {attempt} fix(es)",
                "failed": f"`{command}` still fails (exit {result['exit_code']}) after {attempt} fix(es)"}[status]
        await self.log(w.agent_id, text, level="info" if ok else "warning",
                       autofix={"command": command, "status": status, "ok": ok, "attempts": attempt})
        return result

    async def review_loop(self, team: Team, tag: str = "") -> None:
        max_rework = self.opts.max_rework
        for r in range(1, max_rework + 2):
            files = await anyio.to_thread.run_sync(read_files, self.folder, sorted({p for w in team.workers for p in w.files}))
            review = await self.ask(
                team.agent_id, team.brief.role, f"{team.key}.review{tag}.{r}",
                prompts.review(self.description, team.as_dict(), [w.as_dict() for w in team.workers], files,
                               team.commands, await self.context_block(team.agent_id, team.agent_id)),
                Review,
            )
            team.approved, team.feedback = review.approved, review.feedback
            await self.d.bus.publish(
                "review.verdict",
                {"by": "manager", "role": team.brief.role, "round": r, "approved": review.approved,
                 "feedback": review.feedback, "rework": review.rework},
                task_id=self.task_id, agent_id=team.agent_id,
            )
            if review.approved or r > max_rework:
                return
            await self.rework(team, review.feedback, review.rework, f"rework{tag}.{r}")

    async def rework(self, team: Team, feedback: str, roles: list[str], tag: str) -> None:
        wanted = [w for w in team.workers if not roles or w.role in roles] or team.workers

        async def redo(w: Worker) -> None:
            await self.store.agent_status(self.task_id, w.agent_id, "working", rework=tag)
            await self.worker_turn(team, w, f"{team.key}.w{w.index}.{tag}", 2, feedback=feedback)

        async with anyio.create_task_group() as tg:
            for w in wanted:
                tg.start_soon(redo, w)
        await self.run_commands(team, tag=tag)

    # -- validation ---------------------------------------------------------
    async def validate(self, plan: Plan, teams: list[Team]) -> None:
        rounds = self.opts.max_validation_rounds
        for v in range(1, rounds + 2):
            listed = await anyio.to_thread.run_sync(project_files, self.folder, 400)
            files = await anyio.to_thread.run_sync(read_files, self.folder, listed)
            verdict = await self.ask(
                self.boss_id, "boss", f"validate.{v}",
                prompts.validate(self.description, self.plan_json, files,
                                 [{**t.as_dict(), "approved": t.approved, "feedback": t.feedback} for t in teams],
                                 await self.context_block(self.boss_id)),
                Validation,
            )
            await self.d.bus.publish(
                "review.verdict",
                {"by": "boss", "round": v, "approved": verdict.approved, "feedback": verdict.feedback,
                 "failing_managers": verdict.failing_managers},
                task_id=self.task_id, agent_id=self.boss_id,
            )
            if verdict.approved:
                return
            if v > rounds:
                await self.note(f"the Boss did not approve the result after {rounds} rework round(s): {verdict.feedback}")
                return
            failing = [t for t in teams if t.brief.role in verdict.failing_managers] or teams

            async def redo(t: Team) -> None:
                await self.store.agent_status(self.task_id, t.agent_id, "working", validation=v)
                await self.rework(t, verdict.feedback, [], f"valid{v}")
                await self.review_loop(t, tag=f".v{v}")
                await self.store.agent_status(self.task_id, t.agent_id, "done", approved=t.approved)

            async with anyio.create_task_group() as tg:
                for t in failing:
                    tg.start_soon(redo, t)
