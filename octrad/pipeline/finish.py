"""Stage 6, the end: commit what is left, snapshot, publish, and say honestly
how it ended.

``done`` and verified when the checks passed; ``done`` unverified (the notes
say why) when no check could run; ``failed`` with kind ``checks_failed``
when they still fail after the attempts: the work is committed and
snapshotted first (never published), and the error says how to go on.
"""

from __future__ import annotations

from typing import Any

from octra_protocol.errors import RpcError

from . import baseline
from .run import ChecksFailed, TaskRun


async def run(run: TaskRun, teams: list[Any]) -> None:
    ctx = getattr(run.d, "context", None)
    if ctx is not None:  # team entries lived until the team's last rework; the teams are finished now
        for t in teams:
            await ctx.end_team(run.project_id, t.agent_id)
    sha = await run.commit_all("octra: the rest of the project", "octra")
    if sha:
        await run.log(None, f"committed remaining files ({sha[:10]})")
    if run.repo is not None:  # its git helpers must not outlive the folder
        await run.repo.aclose()
        run.repo = None
    failed = [c for c in run.checks if c["exit_code"] is not None and not c["passed"]]
    if run.baseline:  # work on existing code: the repository's own checks, before and after
        await run.note("after the change: " + baseline.summary(run.checks))
        for r in baseline.regressions(run.baseline, run.checks):
            await run.note(f"regression: `{r['command']}` passed before the change and fails after it")
    if run.verified is True:
        await run.note(f"verified: {len(run.checks)} check(s) passed ({', '.join(c['name'] for c in run.checks)})")
    elif run.verified is None:
        await run.note(f"unverified: {run.unverified_reason}")
    if run.sandbox == "none" and run.checks:
        await run.note("the checks ran without a sandbox (see the sandbox setting)")
    await run.status("snapshotting")
    await snapshot(run)
    if failed:
        first = failed[0]
        tail = " / ".join(first["output_tail"].strip().splitlines()[-3:])[:300]
        await run.note(f"checks failed: `{first['command']}` exits {first['exit_code']}: {tail}")
        kept = "committed" + (" and snapshotted" if await _snapshotted(run) else "")
        if not run.can_debug:
            raise ChecksFailed(
                f"check {first['name']!r} (`{first['command']}`) fails (exit {first['exit_code']}); the offline "
                f"provider has no AI to fix it; the work is {kept}. Follow up with an AI provider: "
                f"octractl reply {run.task_id} '...'"
            )
        raise ChecksFailed(
            f"check {first['name']!r} (`{first['command']}`) still fails (exit {first['exit_code']}) after "
            f"{run.fix_attempts} fix attempt(s); the work is {kept}. "
            f"Try more attempts: octractl resume {run.task_id} --meta max_fix_attempts="
            f"{run.opts.max_fix_attempts + 2}, or send a follow-up: octractl reply {run.task_id} '...'"
        )
    await publish(run)


async def _snapshotted(run: TaskRun) -> bool:
    row = await run.store.row(run.task_id)
    return bool(row["store_path"])


async def snapshot(run: TaskRun) -> None:
    snaps = getattr(run.d, "snapshots", None)
    if snaps is None:
        await run.note(f"snapshots are unavailable in this daemon; the project stays in {run.folder}")
        return
    try:
        info = await snaps.snapshot(run.project_id, run.task_id, run.folder)
    except RpcError as exc:
        if exc.kind == "unavailable":
            await run.note(f"snapshot skipped: {exc.message}; the project stays in {run.folder}")
            return
        raise
    await run.store.update(run.task_id, store_path=info.store_path)


async def publish(run: TaskRun) -> None:
    """Hand the result to GitHub when the task or the settings ask for it."""
    gh = run.d.github
    if gh.wants_publish(run):
        await run.status("publishing")
        await gh.publish(run)
