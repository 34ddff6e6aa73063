"""``daemon.tasks``: starting, stopping and steering task runs.

A task runs in the daemon's task group inside its own cancel scope.  When a
run stops to wait for the user (plan approval, clarification), the coroutine
ends and the wait is a status; the user's answer is journaled and the run
starts again, replaying the journal up to where it stopped.  Resume after a
crash is the same move.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import anyio
import msgspec

from octra_protocol.errors import RpcError
from octra_protocol.methods.tasks import FINAL_STATES, RUNNING_STATES, WAITING_STATES

from ..redact import redact
from . import gitrepo
from .files import list_files
from .run import ChecksFailed, TaskRun, Waiting, options
from .store import TaskStore

log = logging.getLogger(__name__)



_ISSUE_PATH = re.compile(r"https?://[^/\s]+/[^/\s]+/([^/\s]+)/issues/(\d+)")
_URL = re.compile(r"https?://\S+")


def project_hint(description: str, issue_url: str | None) -> str:
    """What a new project is named after: an issue's repository and number, else the description without URLs."""
    m = _ISSUE_PATH.search(issue_url or "") or _ISSUE_PATH.search(description)
    if m:
        return f"{m.group(1)} issue {m.group(2)}"
    return _URL.sub(" ", description)


def _cause(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (Waiting and RpcError before the rest)."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for sub in e.exceptions:
                walk(sub)
        else:
            leaves.append(e)

    walk(exc)
    for kind in (RpcError, Waiting, ChecksFailed):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0] if leaves else exc


class TaskService:
    def __init__(self, daemon: Any):
        self.d = daemon
        self.store = TaskStore(daemon.db, daemon.bus)
        self.running: dict[str, anyio.CancelScope] = {}
        self._stop_as: dict[str, str] = {}
        #: task id -> project id of every run not yet settled: one run per project
        self._projects: dict[str, str] = {}
        #: task id -> set once its run has settled (a gate's answer waits for the run that stopped at it)
        self._settled: dict[str, anyio.Event] = {}
        #: creating and relaunching check a project and claim it without interleaving
        self._gate = anyio.Lock()
        #: runs not yet settled (a run leaves ``running`` before its final status is written)
        self._alive = 0
        self._idle = anyio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Tasks that were running when the daemon stopped are interrupted (resumable)."""
        for tid in await self.store.ids_in(RUNNING_STATES):
            await self.store.set_status(
                tid, "interrupted", {"kind": "interrupted", "message": "the daemon stopped during this task; resume it with task.resume"}
            )
            await self.store.settle_agents(tid, "interrupted")

    async def stop(self, timeout: float = 20.0) -> None:
        """Checkpoint: every running task stops now and is left ``interrupted``."""
        for tid, scope in list(self.running.items()):
            self._stop_as[tid] = "interrupted"
            scope.cancel()
        with anyio.move_on_after(timeout):
            await self._idle.wait()

    # -- one run per project ---------------------------------------------------
    async def _ensure_project_free(self, project_id: str, name: str, except_task: str | None = None) -> None:
        """A project's folder and repository serve one task at a time: another task
        running, finishing, or waiting for the user holds it."""
        for tid, pid in self._projects.items():
            if pid == project_id and tid != except_task:
                raise RpcError.of("conflict", f"project {name} is busy with task {tid}; wait for it or cancel it", task_id=tid)
        marks = ",".join("?" * (len(RUNNING_STATES) + len(WAITING_STATES)))
        busy = await self.d.db.fetchone(
            f"SELECT id, status FROM tasks WHERE project_id = ? AND id != ? AND status IN ({marks})",
            (project_id, except_task or "", *RUNNING_STATES, *WAITING_STATES),
        )
        if busy is not None:
            raise RpcError.of("conflict", f"project {name} already has task {busy['id']} ({busy['status']}); "
                                          "wait for it, answer it or cancel it", task_id=busy["id"])

    # -- running ------------------------------------------------------------
    async def relaunch(self, task_id: str) -> None:
        """Run a stopped task again from its journal (queued at once, so callers see it move)."""
        async with self._gate:
            if task_id in self._projects:
                raise RpcError.of("conflict", f"task {task_id} is still running or finishing")
            row = await self.store.row(task_id)
            await self._ensure_project_free(row["project_id"], row["project_name"], except_task=task_id)
            await self.store.set_status(task_id, "queued")
            self.launch(task_id, row["project_id"])

    def launch(self, task_id: str, project_id: str) -> None:
        if task_id in self.running or task_id in self._projects:
            raise RpcError.of("conflict", f"task {task_id} is already running")
        scope = anyio.CancelScope()
        self.running[task_id] = scope
        self._projects[task_id] = project_id  # held until the run has settled
        self._settled[task_id] = anyio.Event()
        if not self._alive:
            self._idle = anyio.Event()
        self._alive += 1
        self.d.tg.start_soon(self._run, task_id, scope)

    async def _run(self, task_id: str, scope: anyio.CancelScope) -> None:
        final: str | None = None
        error: dict | None = None
        try:
            with scope:
                await TaskRun(self.d, task_id).execute()
                final = "done"
        except Exception as exc:
            # parallel teams and workers raise in groups: the first real cause speaks
            cause = _cause(exc)
            if isinstance(cause, Waiting):
                await self.store.set_status(task_id, cause.status)
            elif isinstance(cause, ChecksFailed):
                final, error = "failed", {"kind": "checks_failed", "message": str(cause)}
            elif isinstance(cause, RpcError):
                final, error = "failed", {"kind": cause.kind, "message": cause.message}
                if cause.kind == "budget_exceeded":
                    error["message"] += (f"; resume it with a raised budget: octractl resume {task_id} "
                                         "--meta max_llm_calls=N (or max_tokens, max_cost_usd)")
            else:  # a bug: the task fails, the daemon does not
                log.exception("task %s failed", task_id)
                final, error = "failed", {"kind": "internal_error", "message": f"{type(cause).__name__}: {cause}"}
            if error is not None and error["kind"] != "internal_error":  # the daemon's log tells every failure
                log.warning("task %s failed (%s): %s", task_id, error["kind"], redact(error["message"]))
        finally:
            self.running.pop(task_id, None)  # steerable again as soon as its status says so
        try:
            with anyio.CancelScope(shield=True):
                await self._settle(task_id, scope, final, error)
        finally:
            self._projects.pop(task_id, None)
            self._settled.pop(task_id).set()
            self._alive -= 1
            if not self._alive:
                self._idle.set()

    async def _settle(self, task_id: str, scope: anyio.CancelScope, final: str | None, error: dict | None) -> None:
        """The last word of a run: its final status, agents and event (the daemon waits for this at shutdown)."""
        if scope.cancel_called and final is None:
            final = self._stop_as.pop(task_id, "cancelled")
            error = {"kind": final, "message": "cancelled by the user" if final == "cancelled"
                     else "the daemon stopped during this task; resume it with task.resume"}
        if final is None:
            return
        if final != "done":
            await self._keep_work(task_id, final)
        await self.store.settle_agents(task_id, "done" if final == "done" else final)
        if final == "done":
            await self.store.set_status(task_id, "done")
        else:
            await self.store.set_status(task_id, final, error)
        llm = getattr(self.d, "llm", None)
        if llm is not None:
            llm.budgets.forget(task_id)
        if final != "interrupted":
            usage = await self.d.llm.task_usage(task_id)
            await self.d.bus.publish("task.finished", {"status": final, "error": error, "usage": usage}, task_id=task_id)

    async def _keep_work(self, task_id: str, final: str) -> None:
        """Whatever the run wrote so far is committed, so nothing is lost."""
        try:
            row = await self.store.row(task_id)
            folder = Path(row["project_path"])
            if folder.is_dir() and list_files(folder, 1):
                await gitrepo.commit_all(folder, f"octra: work so far (task {final})", "octra")
        except Exception:
            log.exception("could not commit the work of task %s", task_id)

    # -- the protocol's verbs -------------------------------------------------
    async def create(self, p: Any) -> dict:
        description = p.description.strip()
        if not description:
            raise RpcError.of("invalid_params", "description is empty")
        opts = options(p.meta)  # a bad flag fails here, not halfway through the run
        skills = getattr(self.d, "skills", None)
        if opts.skill_categories and skills is not None:
            try:
                skills.catalog(opts.skill_categories)
            except ValueError as exc:
                raise RpcError.of("invalid_params", f"meta.skill_categories: {exc}") from None
        provider = p.provider or self._default_provider()
        self._check_provider(provider)
        if provider == "replay" and not p.meta.get("replay_from"):
            raise RpcError.of("invalid_params", "the replay provider needs meta.replay_from: the task whose calls it replays")
        async with self._gate:
            project = await self.d.projects.get_or_create(p.project, hint=project_hint(description, p.issue_url), stack=p.stack)
            await self._ensure_project_free(project.id, project.name)
            tid = await self.store.create(
                project_id=project.id, description=description, provider=provider, model=p.model,
                stack=p.stack, issue_url=p.issue_url, meta=dict(p.meta),
            )
            self.launch(tid, project.id)
        return {"task_id": tid, "project_id": project.id}

    def _default_provider(self) -> str:
        llm = getattr(self.d, "llm", None)
        return llm.default_provider() if llm is not None else "offline"

    def _check_provider(self, name: str) -> None:
        if name in ("offline", "replay"):
            return
        llm = getattr(self.d, "llm", None)
        if llm is None:
            raise RpcError.of("unavailable", f"no AI providers in this daemon; provider {name!r} cannot be used")
        llm.registry.resolve(name)  # raises a clear error for an unknown provider

    async def cancel(self, task_id: str) -> None:
        row = await self.store.row(task_id)
        scope = self.running.get(task_id)
        if scope is not None:
            self._stop_as[task_id] = "cancelled"
            scope.cancel()
            return
        if task_id in self._projects:
            raise RpcError.of("conflict", f"task {task_id} is finishing; its final status comes in a moment")
        if row["status"] in FINAL_STATES:
            raise RpcError.of("conflict", f"task {task_id} is already {row['status']}")
        await self.store.settle_agents(task_id, "cancelled")
        await self.store.set_status(task_id, "cancelled", {"kind": "cancelled", "message": "cancelled by the user"})
        await self.d.bus.publish("task.finished", {"status": "cancelled"}, task_id=task_id)

    async def resume(self, task_id: str, meta: dict | None = None) -> None:
        """Continue from the journal; ``meta`` changes flags first (e.g. a raised
        ``max_llm_calls`` or ``max_fix_attempts`` for a task stopped on a budget)."""
        row = await self.store.row(task_id)
        if task_id in self.running:
            raise RpcError.of("conflict", f"task {task_id} is running")
        if row["status"] not in ("interrupted", "failed", "cancelled"):
            raise RpcError.of("conflict", f"task {task_id} is {row['status']}; only interrupted, failed or cancelled tasks resume")
        if meta:
            merged = {**msgspec.json.decode(row["meta"] or "{}"), **meta}
            if merged.get("replay_from") != msgspec.json.decode(row["meta"] or "{}").get("replay_from"):
                raise RpcError.of("invalid_params", "meta.replay_from cannot change on resume; start a new task")
            options(merged)  # a bad flag fails here, naming it
            await self.store.update(task_id, meta=merged)
            llm = getattr(self.d, "llm", None)
            if llm is not None:
                llm.budgets.forget(task_id)
        await self.d.db.execute("UPDATE tasks SET error = NULL WHERE id = ?", (task_id,))
        await self.relaunch(task_id)

    async def _plan_revision(self, task_id: str) -> int:
        return len(await self.store.steps_like(task_id, "plan")) - 1

    async def _stopped_run_settled(self, task_id: str) -> None:
        """A run that stopped at a gate shows the gate's status a moment before it lets go
        of its project; an answer in that moment waits for it instead of failing to relaunch."""
        settled = self._settled.get(task_id)
        if settled is not None:
            with anyio.move_on_after(10):
                await settled.wait()

    async def approve(self, task_id: str, approved: bool, feedback: str | None) -> None:
        row = await self.store.row(task_id)
        if row["status"] != "awaiting_approval":
            raise RpcError.of("conflict", f"task {task_id} is {row['status']}, not awaiting_approval")
        await self._stopped_run_settled(task_id)
        rev = await self._plan_revision(task_id)
        answer = {"approved": approved, "feedback": feedback or ""}
        if not await self.store.answer_gate(task_id, f"approval.{rev}", answer, "awaiting_approval"):
            raise RpcError.of("conflict", f"the plan of task {task_id} was answered already (by another client), "
                                          "or the task moved on")
        await self.d.bus.publish("review.verdict", {"by": "user", "approved": approved, "feedback": feedback or ""},
                                 task_id=task_id)
        if not approved and not feedback:
            await self.store.settle_agents(task_id, "cancelled")
            await self.store.set_status(task_id, "cancelled", {"kind": "cancelled", "message": "the plan was rejected"})
            await self.d.bus.publish("task.finished", {"status": "cancelled"}, task_id=task_id)
            return
        await self.relaunch(task_id)

    async def message(self, task_id: str, content: str) -> str:
        row = await self.store.row(task_id)
        if not content.strip():
            raise RpcError.of("invalid_params", "the message is empty")
        if row["status"] == "awaiting_input":
            await self._stopped_run_settled(task_id)
            rev = await self._plan_revision(task_id)
            if not await self.store.answer_gate(task_id, f"answer.{rev}", {"content": content}, "awaiting_input"):
                raise RpcError.of("conflict", f"the questions of task {task_id} were answered already "
                                              "(by another client), or the task moved on")
            await self.relaunch(task_id)
            return task_id
        if row["status"] not in FINAL_STATES:
            raise RpcError.of("conflict", f"task {task_id} is {row['status']}; follow up once it has finished")
        meta = msgspec.json.decode(row["meta"] or "{}")
        meta = {k: v for k, v in meta.items() if k not in ("replay_from",)}
        meta["follow_up_of"] = task_id
        description = f"{content.strip()}\n\n(A follow-up to the earlier task on this project: {row['description']})"
        async with self._gate:
            await self._ensure_project_free(row["project_id"], row["project_name"])
            tid = await self.store.create(
                project_id=row["project_id"], description=description,
                provider=row["provider"] if row["provider"] != "replay" else self._default_provider(),
                model=row["model"], stack=row["stack"], issue_url=row["issue_url"], meta=meta,
            )
            self.launch(tid, row["project_id"])
        return tid

    async def get(self, task_id: str) -> dict:
        from ..github.service import task_github

        last_seq = await self.d.db.scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE task_id = ?", (task_id,))
        row = await self.store.row(task_id)
        folder = Path(row["project_path"])
        files: list[str] = []
        if folder.is_dir():
            try:
                files = await gitrepo.tracked_files(folder) or list_files(folder)
            except Exception:  # the folder went (snapshotted) while we looked
                files = []
        if not files and row["store_path"] and os.path.isdir(row["store_path"]):
            files = list_files(Path(row["store_path"]))
        dec = msgspec.json.decode
        return {
            "task_id": row["id"], "project_id": row["project_id"], "project": row["project_name"],
            "description": row["description"], "status": row["status"], "provider": row["provider"],
            "model": row["model"], "stack": row["stack"],
            "plan": dec(row["plan"]) if row["plan"] else None,
            "questions": dec(row["questions"] or "[]"),
            "agents": await self.store.tree(task_id),
            "files": files,
            "usage": await self.d.llm.task_usage(task_id),
            "store_path": row["store_path"], "repo_url": row["repo_url"], "pull_request_url": row["pull_request_url"],
            "github": task_github(row),
            "error": dec(row["error"]) if row["error"] else None,
            **await self.store.checks(task_id),
            "notes": dec(row["notes"] or "[]"),
            "sandbox": row["sandbox"],
            "meta": dec(row["meta"] or "{}"),
            "last_seq": last_seq,
            "created_at": row["created_at"], "updated_at": row["updated_at"],
        }
