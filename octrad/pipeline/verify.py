"""Stage 3, verification: Octra runs the plan's checks on the whole project
(through the executor: sandboxed, in ``nix develop`` when usable), and a
failing check goes to a debug step whose files, edits and commands are
applied before the checks run again, until they pass or ``max_fix_attempts``
are spent.  The model is never trusted to say its work works.

A check whose program is not installed (a bare name not on ``PATH``), or
that cannot run at all (no sandbox), is skipped with the reason: when
nothing failed but something was skipped the task ends unverified.

On existing code a check that passed before the change (:mod:`.baseline`)
and fails after is a regression: its debug step is told so.

Journal steps: ``<pass>.debugN`` (the Nth debug answer of a verification
pass: ``verify``, ``verify.review``, ``verify.vN``).
"""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath

import anyio

from octra_protocol.errors import RpcError

from . import baseline, prompts, relevance
from .answers import Debug, Plan
from .run import TaskRun

log = logging.getLogger(__name__)

DEBUG_BUDGET = 40_000
TAIL = 4000
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def _skip(check, reason: str) -> dict:
    return {"name": check.name, "command": check.command, "exit_code": None, "passed": False,
            "duration_s": 0.0, "output_tail": "", "skipped_reason": reason}


async def run_checks(run: TaskRun, agent_id: str, checks: list | None = None) -> list[dict]:
    """Every check (the plan's by default) in order; after one fails or cannot run, the rest
    are not run (they build on it)."""
    out: list[dict] = []
    stop = ""
    for check in run.plan.checks if checks is None else checks:
        if stop:
            out.append(_skip(check, stop))
            continue
        if not run.opts.run_commands:
            out.append(_skip(check, "commands are off for this task (meta run_commands=false)"))
            continue
        try:
            res = await run.run_command(agent_id, check.command)
        except RpcError as exc:
            if exc.kind != "unavailable":
                raise
            out.append(_skip(check, exc.message))
            stop = f"not run: check {check.name!r} could not run"
            continue
        missing = res.get("missing_tool")
        if missing and "/" not in missing:
            out.append(_skip(check, f"{missing} is not installed on this machine"))
            stop = f"not run: check {check.name!r} could not run"
            continue
        passed = res["exit_code"] == 0 and not res["timed_out"]
        out.append({"name": check.name, "command": check.command, "exit_code": res["exit_code"], "passed": passed,
                    "duration_s": res["duration_s"], "output_tail": res["output_tail"][-TAIL:],
                    "skipped_reason": "timed out" if res["timed_out"] else None})
        if not passed:
            stop = f"not run: check {check.name!r} failed"
    return out


def verdict(results: list[dict]) -> tuple[bool | None, str]:
    """True: all passed; False: one failed; None: none failed but some could not run (the reason)."""
    if any(r["exit_code"] is not None and not r["passed"] for r in results):
        return False, ""
    if not results:
        return None, "the plan has no checks"
    skipped = [r for r in results if r["exit_code"] is None]
    if skipped:
        first = skipped[0]
        return None, f"check {first['name']!r} (`{first['command']}`) could not run: {first['skipped_reason']}"
    return True, ""


async def record(run: TaskRun, results: list[dict]) -> None:
    run.checks = results
    run.verified, run.unverified_reason = verdict(results)
    await run.store.save_checks(run.task_id, results, run.verified, run.sandbox)


async def run(run: TaskRun, tag: str, debug: bool = True) -> None:
    """One verification pass: checks, then debug attempts while they fail."""
    plan: Plan = run.plan
    if not plan.checks:
        await record(run, [])
        await run.log(run.boss_id, "the plan has no checks: nothing to verify", level="warning")
        return
    attempts: list[str] = []
    attempt = 0
    while True:
        results = await run_checks(run, run.boss_id)
        await record(run, results)
        summary = ", ".join(f"{r['name']} " + ("passed" if r["passed"] else "skipped" if r["exit_code"] is None
                                               else f"failed (exit {r['exit_code']})") for r in results)
        await run.log(run.boss_id, f"checks ({tag}): {summary}", checks=[{k: r[k] for k in ("name", "exit_code", "passed")}
                                                                       for r in results], attempt=attempt)
        if run.verified is not False:
            return
        if not debug or attempt >= run.opts.max_fix_attempts:
            run.fix_attempts = attempt
            run.can_debug = debug
            return
        attempt += 1
        failing = next(r for r in results if r["exit_code"] is not None and not r["passed"])
        if failing in baseline.regressions(run.baseline, results):
            failing = {**failing, "regression": True}
            await run.log(run.boss_id, f"regression: `{failing['command']}` passed before the change and fails now",
                          level="warning", command=failing["command"])
        attempts.append(await debug_step(run, tag, attempt, failing, attempts))


def related(plan: Plan, texts: list[str]) -> list[str]:
    """Files of the contract the named files relate to: their module path or an interface name appears in them."""
    blob = "\n".join(texts)
    words = set(_IDENT.findall(blob))
    out = []
    for f in plan.files:
        module = ".".join(PurePosixPath(f.path).with_suffix("").parts)
        stem = PurePosixPath(f.path).stem
        if module in blob or f.path in blob or (stem in words and len(stem) > 3):
            out.append(f.path)
        elif words & set(_IDENT.findall(f.interface)):
            out.append(f.path)
    return out


async def debug_step(run: TaskRun, tag: str, attempt: int, failing: dict, earlier: list[str]) -> str:
    """Ask for what makes ``failing`` pass, apply it; a line for the next attempt's prompt."""
    agent = f"{run.task_id}-debug"
    await run.store.spawn(run.task_id, agent, run.boss_id, "worker", "debug")
    listed = await run.files_now()
    named = relevance.named_in(failing["output_tail"], listed)
    named_text = [t for _, t in await anyio.to_thread.run_sync(relevance.pick, run.folder, named, DEBUG_BUDGET, named)]
    first = [*named, *related(run.plan, [failing["output_tail"], *named_text])]
    files = await anyio.to_thread.run_sync(relevance.pick, run.folder, listed, DEBUG_BUDGET, first)
    messages = prompts.debug(run.description, run.contract or prompts.contract(run.plan), run.guide,
                             failing, relevance.render(files), earlier, issue=run.issue_text, repo_map=run.repo_map)
    answer = await run.ask(agent, "debug", f"{tag}.debug{attempt}", messages, Debug,
                           check=lambda a: run.answer_problems(a, failing["output_tail"]))
    accepted = await run.write_answer(agent, answer)
    changed = [p for p, c in accepted if c]
    contents = {p: (run.folder / p).read_text(encoding="utf-8", errors="replace") for p, _ in accepted}
    for team in run.teams:  # the owner's view of its file follows the fix
        for w in team.workers:
            for p in contents:
                if p in w.files:
                    w.files[p] = contents[p]
    run.record_commit(contents, f"debug: `{failing['command'][:50]}`: {answer.explanation[:60]}", "debug (verify)")
    ran = []
    for command in answer.commands:
        res = await run.run_command(agent, command)
        ran.append(f"`{command}` -> exit {res['exit_code']}")
    await run.store.agent_status(run.task_id, agent, "done")
    await run.log(agent, f"debug attempt {attempt} for `{failing['command']}`: {answer.explanation[:200]}",
                  attempt=attempt, files=changed, commands=list(answer.commands))
    return (f"attempt {attempt}: {answer.explanation or 'no explanation'}; files: {', '.join(changed) or 'none'}; "
            f"commands: {', '.join(ran) or 'none'}; then `{failing['command']}` was run again")
