"""Drives an eval suite through the daemon: each task is created (a follow-up is
a ``task.message`` on the task it follows), followed by its events to its end,
then judged by ``task.accept`` with the files the model never saw; the record
goes to ``results.json`` at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from octra_protocol.errors import RpcError
from octra_protocol.methods.tasks import FINAL_STATES, STOP_STATES

from . import results
from .progress import Progress
from .suite import ACCEPT_COMMAND, SKIP_EXIT, EvalTask

#: what an eval answers a task that stops to ask (nobody is there to answer)
NO_ONE_TO_ASK = ("Nobody can answer questions during this evaluation: decide every open point yourself, "
                 "choose the simplest reasonable option, and build the project as described.")
#: questions answered per task before it counts as stuck
MAX_ANSWERS = 2


@dataclass
class RunOptions:
    provider: str | None
    model: str | None
    parallel: int = 1
    budget_usd: float | None = None
    #: task name -> a GitHub issue URL (for tasks with [github])
    issue_urls: dict[str, str] | None = None


class Runner:
    def __init__(self, client, tasks: list[EvalTask], data: dict[str, Any], out: Path, opts: RunOptions, progress: Progress):
        self.c = client
        self.tasks = tasks
        self.data = data
        self.out = out
        self.opts = opts
        self.progress = progress
        self._done = {t.name: anyio.Event() for t in tasks}
        self._lock = anyio.Lock()

    # -- bookkeeping ----------------------------------------------------------
    def spent(self) -> float:
        return sum(r.get("cost_usd") or 0.0 for r in self.data["tasks"].values()) + self.progress.running_cost()

    async def _record(self, name: str, record: dict[str, Any]) -> None:
        async with self._lock:
            self.data["tasks"][name] = record
            await anyio.to_thread.run_sync(results.save, self.out, self.data)

    # -- the run --------------------------------------------------------------
    async def run(self) -> None:
        limiter = anyio.CapacityLimiter(max(1, self.opts.parallel))
        async with anyio.create_task_group() as tg:
            for t in self.tasks:
                tg.start_soon(self._one, t, limiter)

    async def _one(self, t: EvalTask, limiter: anyio.CapacityLimiter) -> None:
        try:
            record = self.data["tasks"].get(t.name)
            if results.finished(record):
                self.progress.line(t.name, f"already {record['state']} in {self.out} (resumed)")
                return
            if t.follows:
                await self._done[t.follows].wait()
            async with limiter:
                try:
                    rec = await self._attempt(t, record)
                except RpcError as exc:  # not a verdict on the task: a resumed run tries it again
                    rec = {**(self.data["tasks"].get(t.name) or {}), "name": t.name, "state": "error",
                           "error": f"{exc.kind}: {exc.message}"}
                await self._record(t.name, rec)
                self.progress.finished(t.name, rec)
        finally:
            self._done[t.name].set()

    async def _attempt(self, t: EvalTask, record: dict | None) -> dict[str, Any]:
        base = {"name": t.name, "description": t.description, "stack": t.stack, "follows": t.follows}
        skip = self._why_skip(t)
        if skip:
            return {**base, "state": "skipped", "skipped": skip}
        task_id = (record or {}).get("task_id")
        if task_id and not await self._known(task_id):
            task_id = None
        if task_id is None:  # else an interrupted eval's task, picked up again
            task_id = await self._start(t)
            await self._record(t.name, {**base, "state": "running", "task_id": task_id})
        task = await self._follow(t.name, task_id)
        # the daemon's clock: a task picked up again counts its own time, not the eval's pause
        wall = max(task["updated_at"] - task["created_at"], 0.0)
        rec = {**base, **_usage(task), "state": "judged", "task_id": task_id, "project": task.get("project"),
               "status": task["status"], "error_kind": (task.get("error") or {}).get("kind"),
               "verified": task.get("verified"), "checks": [{"name": c["name"], "passed": c["passed"]} for c in task.get("checks") or []],
               "wall_s": round(wall, 1)}
        rec.update(await self._accept(t, task))
        lines = rec.get("lines") or 0
        rec["tokens_per_line"] = round((rec["tokens_in"] + rec["tokens_out"]) / lines, 1) if lines else None
        return rec

    def _why_skip(self, t: EvalTask) -> str | None:
        if t.follows:
            parent = self.data["tasks"].get(t.follows) or {}
            if not parent.get("task_id") or parent.get("status") not in FINAL_STATES:
                return f"it follows {t.follows}, which did not finish ({parent.get('skipped') or parent.get('status') or 'not run'})"
        if t.github is not None and t.name not in (self.opts.issue_urls or {}):
            return ("a GitHub-issue task needs a real GitHub repository and issue: push this task's repo/ folder to a "
                    "repository of yours, open an issue with its issue_title and issue_body, and pass "
                    f"--issue-url {t.name}=https://github.com/OWNER/REPO/issues/N")
        if self.opts.budget_usd is not None and self.spent() >= self.opts.budget_usd:
            return f"the budget of ${self.opts.budget_usd:g} is spent (${self.spent():.4f})"
        return None

    async def _known(self, task_id: str) -> bool:
        try:
            await self.c.call("task.get", {"task_id": task_id})
            return True
        except RpcError as exc:
            if exc.kind == "not_found":
                return False
            raise

    async def _start(self, t: EvalTask) -> str:
        meta = dict(t.meta)
        if self.opts.budget_usd is not None:
            remaining = max(self.opts.budget_usd - self.spent(), 0.0)
            meta["max_cost_usd"] = min(meta.get("max_cost_usd", remaining), remaining)
        if t.follows:
            parent = self.data["tasks"][t.follows]["task_id"]
            return (await self.c.call("task.message", {"task_id": parent, "content": t.description}))["task_id"]
        params: dict[str, Any] = {"description": t.description, "meta": meta}
        for key, value in (("stack", t.stack), ("provider", self.opts.provider), ("model", self.opts.model),
                           ("issue_url", (self.opts.issue_urls or {}).get(t.name))):
            if value:
                params[key] = value
        return (await self.c.call("task.create", params))["task_id"]

    async def _follow(self, name: str, task_id: str) -> dict[str, Any]:
        """The task's events until it stops for good; a question or an approval gate is
        answered (nobody is there), an interrupted task resumed, a bounded number of times."""
        answers = 0
        self.progress.started(name, task_id)
        since = 0
        while True:
            task = await self._until_stopped(name, task_id, since)
            if task["status"] not in ("awaiting_input", "awaiting_approval", "interrupted") or answers >= MAX_ANSWERS:
                return task
            answers += 1
            since = task.get("last_seq", 0)
            if task["status"] == "interrupted":  # the daemon stopped under it: it goes on from its journal
                await self.c.call("task.resume", {"task_id": task_id})
            elif task["status"] == "awaiting_approval":
                await self.c.call("task.approve", {"task_id": task_id, "approved": True})
            else:
                await self.c.call("task.message", {"task_id": task_id, "content": NO_ONE_TO_ASK})

    async def _until_stopped(self, name: str, task_id: str, since: int) -> dict[str, Any]:
        """Follow the events after ``since`` until the task is in a stop state (by ``task.get``:
        a stop status in replayed history may be an old one)."""
        while True:
            async with self.c.subscribe(task_id=task_id, since_seq=since) as sub:
                task = await self.c.call("task.get", {"task_id": task_id})
                if task["status"] in STOP_STATES:
                    return task
                async for ev in sub:  # the statuses so far come first (history), then live ones
                    since = ev.seq
                    data = ev.data or {}
                    if ev.kind == "llm.call":
                        self.progress.cost(name, float(data.get("cost_usd") or 0.0))
                    elif ev.kind == "task.status":
                        self.progress.status(name, data.get("status", "?"))
                        if data.get("status") in STOP_STATES:
                            break
            task = await self.c.call("task.get", {"task_id": task_id})
            if task["status"] in STOP_STATES:
                return task

    async def _accept(self, t: EvalTask, task: dict[str, Any]) -> dict[str, Any]:
        self.progress.status(t.name, "accepting")
        params = {"task_id": task["task_id"], "files": t.accept_files, "command": ACCEPT_COMMAND,
                  "timeout_s": t.accept_timeout_s}
        try:
            res = await self.c.call("task.accept", params)
        except RpcError as exc:
            if exc.kind not in ("not_found", "snapshot_error"):
                raise
            return {"accepted": False, "accept_exit": None, "accept_note": exc.message, "files": None, "lines": None}
        out = {"accept_exit": res["exit_code"], "accept_s": res["duration_s"], "files": res["files"],
               "lines": res["lines"], "accept_output": res["output_tail"][-2000:], "sandbox": res["sandbox"]}
        if res["exit_code"] == SKIP_EXIT:
            last = [ln for ln in res["output_tail"].splitlines() if ln.strip()]
            return {**out, "accepted": None, "accept_note": f"not judged: {last[-1] if last else 'exit 77'}"}
        note = "timed out" if res["timed_out"] else ("" if res["passed"] else f"exit {res['exit_code']}")
        return {**out, "accepted": bool(res["passed"]), "accept_note": note}


def _usage(task: dict[str, Any]) -> dict[str, Any]:
    u = task.get("usage") or {}
    return {"calls": u.get("calls", 0), "tokens_in": u.get("tokens_in", 0), "tokens_out": u.get("tokens_out", 0),
            "tokens_cached": u.get("tokens_cached", 0), "cost_usd": round(u.get("cost_usd", 0.0), 6)}
