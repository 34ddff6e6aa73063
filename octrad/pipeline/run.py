"""One run of one task: plan, build in teams, verify, review and validate, finish.

The stages live in their own modules (:mod:`.planning`, :mod:`.teams`,
:mod:`.verify`, :mod:`.review`, :mod:`.finish`); this one holds what they
share: the task's data, asking (every AI answer goes through
:meth:`TaskRun.ask`, which answers from the journal when the step was
completed before and records each new answer that passes its checks),
writing files, commands and git.  Everything with a side effect is
idempotent, so replaying a run from its journal lands in the same place.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Sequence, TypeVar, Union

import anyio
import msgspec

from octra_protocol.errors import RpcError

from . import edits, gitrepo, prompts
from .answers import FileOut
from .files import UnsafePath, project_files, write_file

log = logging.getLogger(__name__)
T = TypeVar("T")

Count = Annotated[int, msgspec.Meta(ge=0, le=20)]
#: how often a valid but unusable answer goes back to the model before the task fails
MAX_CORRECTIONS = 2


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
    #: tokens of the repository map in the prompts of a run on existing code (0: no map)
    repo_map_tokens: Annotated[int, msgspec.Meta(ge=0, le=32_000)] = 2000
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


class ChecksFailed(Exception):
    """The checks still fail after the bounded attempts: the task fails with kind ``checks_failed``
    (its work committed and snapshotted)."""


class TaskRun:
    def __init__(self, daemon: Any, task_id: str):
        self.d = daemon
        self.store = daemon.tasks.store
        self.task_id = task_id
        self.repo: gitrepo.ProjectRepo | None = None
        #: the checks as last run (CheckResult dicts) and their verdict (true, false, null: none could run)
        self.checks: list[dict] = []
        self.verified: bool | None = None
        self.unverified_reason = ""
        self.sandbox: str | None = None
        #: set by the stages: the plan, its contract as prompt text, the guides' text, the teams
        self.plan: Any = None
        self.contract = ""
        self.guide = ""
        self.teams: list[Any] = []
        #: debug attempts of the last verification pass, and whether it could ask for any (not offline)
        self.fix_attempts = 0
        self.can_debug = True
        #: the project's file list as of change number ``_changes`` (a write or a command may change it)
        self._listing: tuple[int, list[str]] | None = None
        self._changes = 0

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
        #: the task's stack, else the one the project was built with (a follow-up on ``--project P``)
        self.stack = row["stack"] or row["project_stack"]
        self.meta: dict[str, Any] = msgspec.json.decode(row["meta"] or "{}")
        #: how the commands ran so far: None (none yet), "bwrap", or "none" once one ran unsandboxed
        self.sandbox: str | None = row["sandbox"]
        self.opts = options(self.meta)
        self.categories = self.opts.skill_categories or None
        self.boss_id = f"{self.task_id}-boss"
        self.settings = await self.d.settings.get()
        #: what every agent is told about a GitHub issue (set by the GitHub service's prepare)
        self.issue_text = ""
        #: the project's files before this run, its repository map, and its own checks before the
        #: change (set by :mod:`.existing` and :mod:`.baseline`)
        self.existing: list[str] = []
        self.repo_map = ""
        self.baseline: list[dict] = []
        self.baseline_checks: list = []

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
    async def ask(self, agent_id: str, role: str, step: str, messages: list[dict], answer_type: type[T],
                  check: Callable[[T], Sequence[str]] | None = None) -> T:
        """The answer to one step: from the journal, else from the provider.

        ``check`` names what makes a well-formed answer unusable; such an answer
        goes back to the model with the reasons (up to :data:`MAX_CORRECTIONS`
        times) and is never journaled, so a resume asks again instead of
        replaying a dead end."""
        cached = await self.store.step(self.task_id, step)
        if cached is not None:
            try:
                return msgspec.json.decode(cached, type=answer_type)
            except msgspec.ValidationError as exc:
                raise RpcError.of("conflict", f"step {step!r} of task {self.task_id} was recorded in a form this version "
                                              f"of Octra cannot use ({exc}); start a new task for it") from None
        from ..providers.types import CallSite

        site = CallSite(task_id=self.task_id, agent_id=agent_id, role=role, step=step, meta=self.meta)
        msgs = list(messages)
        problems: Sequence[str] = ()
        for _ in range(MAX_CORRECTIONS + 1):
            answer = await self.d.llm.ask(site, msgs, answer_type, provider=self.provider, model=self.model,
                                          temperature=self.opts.temperature)
            problems = check(answer.value) if check else ()
            if not problems:
                await self.store.record(self.task_id, step, answer.value)
                return answer.value
            await self.log(agent_id, f"answer to {step} sent back: {'; '.join(problems)[:500]}", level="warning",
                           step=step, correction=True)
            msgs = [*msgs, {"role": "assistant", "content": answer.text},
                    {"role": "user", "content": prompts.correction(list(problems))}]
        raise RpcError.of("provider_error",
                          f"the answer to step {step!r} was still unusable after {MAX_CORRECTIONS} corrections: "
                          + "; ".join(problems)[:1000], step=step)

    def answer_problems(self, answer: Any, job: str = "") -> list[str]:
        """An answer's edits that do not apply to the files as they are now, and its whole
        files that drop what ``job`` did not ask to change in a file that existed before."""
        problems = edits.resolve(self.folder, answer.files, answer.edits)[1] if answer.edits else []
        if self.existing and answer.files:
            problems += edits.rewrite_problems(self.folder, answer.files, self.existing, job)
        return problems

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
    async def files_now(self) -> list[str]:
        """The project's files as a prompt should see them (cached until something writes)."""
        seen = self._changes
        if self._listing is not None and self._listing[0] == seen:
            return list(self._listing[1])
        listed = await anyio.to_thread.run_sync(project_files, self.folder, 400)
        self._listing = (seen, listed)  # stale at once if something changed meanwhile
        return list(listed)

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
                self._changes += 1
                await self.d.bus.publish(
                    "file.written", {"path": path, "bytes": len(f.content.encode())}, task_id=self.task_id, agent_id=agent_id
                )
        return accepted

    async def write_answer(self, agent_id: str, answer: Any) -> list[tuple[str, bool]]:
        """Write an answer's files and edits (edits already checked to apply by :meth:`ask`)."""
        resolved, _ = edits.resolve(self.folder, answer.files, answer.edits)
        return await self.write(agent_id, [FileOut(f.path, f.content) for f in resolved])

    def git(self) -> gitrepo.ProjectRepo:
        if self.repo is None:
            self.repo = gitrepo.ProjectRepo(self.folder)
        return self.repo

    async def commit_all(self, message: str, author: str) -> str | None:
        """Commit everything as it is on disk now (after any queued commits)."""
        return await self.git().commit_all(message, author)

    def record_commit(self, contents: dict[str, str], message: str, author: str) -> None:
        """Queue a commit of these contents (git runs in the background; nothing is
        committed for what HEAD already holds).  Callers pass every file an answer
        wrote, unchanged ones too: after a crash between a write and its queued
        commit, the replayed answer finds its files already on disk, and they are
        still its author's to commit."""
        if contents:
            self.git().record({p: c.encode() for p, c in contents.items()}, message, author)

    # -- commands -----------------------------------------------------------
    async def run_command(self, agent_id: str, command: str) -> dict:
        """Run one command in the project (sandboxed per the settings); never raises for a failing command."""
        from ..scaffold.executor import BadCommand, executor_for
        from ..scaffold.sandbox import SandboxUnavailable

        await self.d.bus.publish("command.started", {"command": command}, task_id=self.task_id, agent_id=agent_id)
        self._changes += 1
        try:
            res = await (await executor_for(self.d)).run(command, self.folder)
        except SandboxUnavailable as exc:
            raise RpcError.of("unavailable", f"cannot run `{command}`: {exc}") from None
        except BadCommand as exc:
            out = {"command": command, "exit_code": -1, "timed_out": False, "duration_s": 0.0,
                   "output_tail": f"refused: {exc}", "sandbox": "none", "nix": False, "missing_tool": None}
            await self.d.bus.publish("command.finished", out, task_id=self.task_id, agent_id=agent_id)
            return out
        self._changes += 1  # what the command made
        out = {
            "command": command, "exit_code": res.exit_code, "timed_out": res.timed_out,
            "duration_s": round(res.duration_s, 3), "output_tail": res.output_tail[-4000:],
            "sandbox": res.sandbox, "nix": res.nix_used, "network": res.network, "notes": res.notes,
            "missing_tool": res.missing_tool,
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

    def detected_stack(self) -> str | None:
        """The stack of the tool guide whose ``detect`` files the project has."""
        guides = getattr(self.d, "guides", None)
        for g in guides.all() if guides is not None else []:
            if g.detect and g.stacks and g.detected_in(self.folder, self.project_name):
                return g.stacks[0]
        return None

    def offline_refusal(self) -> str:
        return (f"nothing was changed: project {self.project_name} already has code ({len(self.existing)} files), "
                "and the offline provider has no AI, so it cannot change existing code (it only starts new projects "
                "from the tool guides). Configure an AI provider (octractl providers set NAME --kind openai "
                "--base-url URL --model MODEL) and send the request again with it: "
                f"octractl run '...' --project {self.project_name} --provider NAME")

    # -- the whole run ------------------------------------------------------
    async def execute(self) -> None:
        try:
            await self._execute()
        finally:
            if self.repo is not None:
                await self.repo.aclose()

    async def _execute(self) -> None:
        from . import baseline, existing, finish, planning, review, teams, verify

        await self.load()
        await self.prepare_folder()
        await self.store.spawn(self.task_id, self.boss_id, None, "boss", "boss")
        await existing.prepare(self)  # what is there before the change, and its map
        if self.existing and not self.stack:
            self.stack = self.detected_stack()
        if self.provider == "offline" and self.existing and self.d.github.issue_url(self) is None:
            raise RpcError.of("unavailable", self.offline_refusal())
        if self.provider != "offline":
            await baseline.run(self)
        if self.provider == "offline":
            from .offline import OfflineBuild

            build = OfflineBuild(self)
            self.plan = await planning.gate(self, build.plan)
            await self.status("building")
            await build.build(self.plan)
            await verify.run(self, "verify", debug=False)
            await build.report()
            built: list = []
        else:
            self.plan = await planning.gate(self, lambda *a: planning.ask_plan(self, *a))
            await self.status("building")
            built = await teams.build(self, self.plan)
            await verify.run(self, "verify")
            await self.status("validating")
            await review.managers(self, built)
            await review.validate(self, built)
        await self.store.agent_status(self.task_id, self.boss_id, "done")
        await finish.run(self, built)
