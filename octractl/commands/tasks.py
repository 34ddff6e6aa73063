"""octractl run | tasks | show | watch | cancel | resume | approve | reply."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .. import exitcodes
from ..complete import task_ids
from ..session import Options, fail, run


def parse_meta(pairs: tuple[str, ...]) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is JSON when it parses (numbers, booleans, lists), else a string."""
    meta: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--meta takes KEY=VALUE, not {pair!r}", exitcodes.USAGE)
        try:
            meta[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            meta[key.strip()] = value
    return meta


TASK_HELP = "TASK is a task id, a unique start of one, or `last` (the newest task)."


async def resolve(client, ref: str | None) -> str:
    """The task id that ``ref`` names: an id, a unique prefix of one, or ``last`` (None: last)."""
    import re

    from octra_protocol.errors import RpcError

    ref = (ref or "last").strip()
    if re.fullmatch(r"t[0-9a-f]{10}", ref):
        return ref
    if ref == "last":
        tasks = (await client.call("task.list", {"limit": 1}))["tasks"]
        if not tasks:
            raise RpcError.of("not_found", "there is no task yet (start one with: octractl run \"...\")")
        return tasks[0]["task_id"]
    tasks = (await client.call("task.list", {"limit": 1000}))["tasks"]
    hits = [t["task_id"] for t in tasks if t["task_id"].startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        return ref  # the daemon's answer (a task it keeps out of task.list, or "no task")
    raise RpcError.of("conflict", f"{ref!r} is the start of {len(hits)} tasks: {', '.join(hits[:5])}{' ...' if len(hits) > 5 else ''}")


async def follow(client, task_id: str, as_json: bool, since: int = 0) -> dict:
    """Print the task's events after ``since`` (its history, then live ones) until it stops; return the task."""
    from contextlib import nullcontext

    import anyio
    import msgspec

    from ..render import print_ndjson
    from octra_protocol.methods.tasks import STOP_STATES

    from ..taskview import AgentNames, event_line

    names = AgentNames()
    seen = 0
    async with client.subscribe(task_id=task_id, since_seq=since) as sub:
        task = await client.call("task.get", {"task_id": task_id})
        history_end = task.get("last_seq", 0)
        stopped = task["status"] in STOP_STATES
        while True:
            # a stopped task sends no news: once its history is out, a short
            # quiet spell (for a status event still being stored) ends the watch
            quiet = stopped and seen >= history_end
            ev = None
            with anyio.move_on_after(0.3) if quiet else nullcontext():
                ev = await anext(sub, None)
            if ev is None:
                break
            seen = ev.seq
            if as_json:
                print_ndjson(msgspec.to_builtins(ev))
            else:
                line = event_line(msgspec_dict(ev), names)
                if line:
                    click.echo(line)
            if ev.kind == "task.status" and (ev.data or {}).get("status") in STOP_STATES and ev.seq > history_end:
                break
    return await client.call("task.get", {"task_id": task_id})


async def last_seq(client, task_id: str) -> int:
    return (await client.call("task.get", {"task_id": task_id})).get("last_seq", 0)


def msgspec_dict(ev) -> dict:
    return {"seq": ev.seq, "kind": ev.kind, "task_id": ev.task_id, "agent_id": ev.agent_id, "data": ev.data or {}}


def finish(opts: Options, task: dict) -> None:
    """The final word: the task (JSON) or its summary, and the exit code."""
    from ..render import print_ndjson
    from octra_protocol.methods.tasks import WAITING_STATES

    from ..taskview import summary

    if opts.json:
        print_ndjson({"task_id": task["task_id"], "task": task})
    else:
        click.echo("")
        click.echo(summary(task))
    if task["status"] == "done":
        return
    sys.exit(exitcodes.WAITING if task["status"] in WAITING_STATES else exitcodes.DAEMON_ERROR)


def register(cli: click.Group) -> None:
    @cli.command("run")
    @click.argument("description")
    @click.option("--project", metavar="P", help="Project id or name (a new project by default; a new name starts one).")
    @click.option("--stack", metavar="S", help="e.g. rust, node, python, go (the Boss picks one otherwise).")
    @click.option("--provider", metavar="P", help="A configured provider, offline or replay.")
    @click.option("--model", metavar="M", help="Model name for the provider.")
    @click.option("--issue", "issue_url", metavar="URL", help="A GitHub issue to work on.")
    @click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
                  help="Task flags, e.g. approve_plan=true max_llm_calls=40 skill_categories='[\"Backend\"]'.")
    @click.option("--wait/--no-wait", default=True, help="Follow the task until it stops (default) or print its id.")
    @click.pass_obj
    def run_(opts: Options, description, project, stack, provider, model, issue_url, meta, wait) -> None:
        """Start a task from DESCRIPTION and follow it.

        \b
        Exit code 0 only when the task is done; 1 when it failed or was
        cancelled; 4 when it waits for you (plan approval or an answer).
        \b
        Examples:
          octractl run "a command-line tool in Rust that greets the user"
          octractl run "REST API for notes" --stack python --meta approve_plan=true
          octractl --json run "todo app" --no-wait
        """
        params: dict[str, Any] = {"description": description, "meta": parse_meta(meta)}
        if provider:
            provider = provider.strip().lower()  # provider names are lower case (OFFLINE is offline)
        for key, value in (("project", project), ("stack", stack), ("provider", provider), ("model", model),
                           ("issue_url", issue_url)):
            if value:
                params[key] = value

        following: dict = {}

        async def body(client):
            if project:
                from octra_protocol.errors import RpcError

                try:
                    await client.call("task.list", {"project": project, "limit": 1})
                except RpcError as exc:
                    if exc.kind != "not_found":
                        raise
                    if not opts.json:
                        click.echo(f"octractl: there is no project {project!r} yet: this task starts it", err=True)
            created = await client.call("task.create", params)
            if not wait:
                return created, None
            following["task_id"] = created["task_id"]
            return created, await follow(client, created["task_id"], opts.json)

        created, task = run(opts, body, following)
        if task is None:
            if opts.json:
                click.echo(json.dumps(created))
            else:
                click.echo(created["task_id"])
            return
        finish(opts, task)

    @cli.command("tasks")
    @click.option("--status", metavar="S", help="Only tasks in this status.")
    @click.option("--project", metavar="P", help="Only this project's tasks.")
    @click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
    @click.pass_obj
    def tasks(opts: Options, status, project, limit) -> None:
        """List tasks, newest first."""
        from ..render import print_json

        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if project:
            params["project"] = project
        result = run(opts, lambda c: c.call("task.list", params))
        if opts.json:
            print_json(result)
            return
        if not result["tasks"]:
            click.echo("no tasks")
            return
        from ..render import clip, table

        click.echo(table(("TASK", "STATUS", "PROJECT", "DESCRIPTION"),
                         [(t["task_id"], t["status"], t["project"], clip(t["description"], 60)) for t in result["tasks"]]))

    @cli.command("show")
    @click.argument("task_id", metavar="[TASK]", required=False, shell_complete=task_ids)
    @click.pass_obj
    def show(opts: Options, task_id) -> None:
        """Show a task (the newest without TASK): status, checks, agent tree, files, usage, results.

        TASK is a task id, a unique start of one, or `last`."""
        from ..render import print_json
        from ..taskview import summary, tree_lines

        async def body(c):
            return await c.call("task.get", {"task_id": await resolve(c, task_id)})

        task = run(opts, body)
        if opts.json:
            print_json(task)
            return
        click.echo(summary(task))
        if task["agents"]:
            click.echo("agents:")
            for line in tree_lines(task["agents"], 1):
                click.echo(line)

    @cli.command("watch")
    @click.argument("task_id", metavar="[TASK]", required=False, shell_complete=task_ids)
    @click.pass_obj
    def watch(opts: Options, task_id) -> None:
        """Print a task's events (from its start) until it stops; NDJSON with --json.

        TASK is a task id, a unique start of one, or `last` (the default)."""
        following: dict = {}

        async def body(c):
            following["task_id"] = await resolve(c, task_id)
            return await follow(c, following["task_id"], opts.json)

        finish(opts, run(opts, body, following))

    def _verb(name: str, method: str, doc: str):
        @cli.command(name, help=doc + "\n\n" + TASK_HELP)
        @click.argument("task_id", metavar="TASK", shell_complete=task_ids)
        @click.option("--wait", is_flag=True, help="Follow the task afterwards.")
        @click.pass_obj
        def cmd(opts: Options, task_id, wait) -> None:
            following: dict = {}

            async def body(client):
                nonlocal task_id
                task_id = await resolve(client, task_id)
                since = await last_seq(client, task_id)
                await client.call(method, {"task_id": task_id})
                following["task_id"] = task_id
                return await follow(client, task_id, opts.json, since) if wait else None

            task = run(opts, body, following)
            if task is not None:
                finish(opts, task)
            elif not opts.json:
                click.echo(f"{name}: {task_id}")

        return cmd

    _verb("cancel", "task.cancel", "Stop a task now (its AI calls and commands too).")

    @cli.command("resume")
    @click.argument("task_id", metavar="TASK", shell_complete=task_ids)
    @click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
                  help="Flags to change first, e.g. max_fix_attempts=5 or max_llm_calls=200.")
    @click.option("--wait", is_flag=True, help="Follow the task afterwards.")
    @click.pass_obj
    def resume(opts: Options, task_id, meta, wait) -> None:
        """Continue an interrupted or failed task from its last completed step.

        \b
        TASK is a task id, a unique start of one, or `last`.

        \b
        Examples:
          octractl resume t1a2b3c4d5e --wait
          octractl resume last --meta max_fix_attempts=5 --meta max_llm_calls=200
        """
        params: dict[str, Any] = {}
        if meta:
            params["meta"] = parse_meta(meta)

        following: dict = {}

        async def body(client):
            nonlocal task_id
            task_id = params["task_id"] = await resolve(client, task_id)
            since = await last_seq(client, task_id)
            await client.call("task.resume", params)
            following["task_id"] = task_id
            return await follow(client, task_id, opts.json, since) if wait else None

        task = run(opts, body, following)
        if task is not None:
            finish(opts, task)
        elif not opts.json:
            click.echo(f"resume: {task_id}" + (f" ({', '.join(f'{k}={v}' for k, v in params['meta'].items())})" if meta else ""))

    @cli.command("approve")
    @click.argument("task_id", metavar="TASK", shell_complete=task_ids)
    @click.option("--reject", is_flag=True, help="Reject the plan (with --feedback: the Boss plans again).")
    @click.option("--feedback", metavar="TEXT", help="What to change in the plan.")
    @click.option("--wait", is_flag=True, help="Follow the task afterwards.")
    @click.pass_obj
    def approve(opts: Options, task_id, reject, feedback, wait) -> None:
        """Answer the plan-approval gate of a task (meta approve_plan=true).

        Rejecting without --feedback cancels the task; with it, the Boss plans again.
        TASK is a task id, a unique start of one, or `last`."""
        params: dict[str, Any] = {"approved": not reject}
        if feedback:
            params["feedback"] = feedback

        following: dict = {}

        async def body(client):
            nonlocal task_id
            task_id = params["task_id"] = await resolve(client, task_id)
            since = await last_seq(client, task_id)
            await client.call("task.approve", params)
            following["task_id"] = task_id
            return await follow(client, task_id, opts.json, since) if wait else None

        task = run(opts, body, following)
        if task is not None:
            finish(opts, task)
        elif not opts.json:
            click.echo(f"approved: {task_id}" if not reject else f"rejected: {task_id} (the Boss plans again with your feedback)"
                       if feedback else f"rejected: {task_id} is cancelled (give --feedback to have the Boss plan again)")

    @cli.command("reply")
    @click.argument("task_id", metavar="TASK", shell_complete=task_ids)
    @click.argument("text")
    @click.option("--wait", is_flag=True, help="Follow the task that carries the message.")
    @click.pass_obj
    def reply(opts: Options, task_id, text, wait) -> None:
        """Answer a task's questions, or follow up on a finished task (a new run on its project).

        TASK is a task id, a unique start of one, or `last`."""

        following: dict = {}

        async def body(client):
            nonlocal task_id
            task_id = await resolve(client, task_id)
            since = await last_seq(client, task_id)
            res = await client.call("task.message", {"task_id": task_id, "content": text})
            # a follow-up is a new task: all of its events are news
            after = since if res["task_id"] == task_id else 0
            following["task_id"] = res["task_id"]
            return res, (await follow(client, res["task_id"], opts.json, after) if wait else None)

        res, task = run(opts, body, following)
        if task is not None:
            finish(opts, task)
        elif opts.json:
            click.echo(json.dumps(res))
        elif res["task_id"] == task_id:
            click.echo(f"answered task {task_id}; it goes on (follow it: octractl watch {task_id})")
        else:
            click.echo(f"follow-up task {res['task_id']} started on the project of {task_id}, from its latest "
                       f"state (follow it: octractl watch {res['task_id']})")
