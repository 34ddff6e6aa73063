"""octractl context list|add|forget|show."""

from __future__ import annotations

import sys
import time

import click

from .. import exitcodes
from ..session import Options, fail, run

SCOPES = ("global", "team", "individual")


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _describe(e: dict) -> str:
    flags = ("!" if e["important"] else "") + (" (forgotten)" if e["forgotten"] else "")
    where = e["scope"] + (f":{e['target']}" if e.get("target") else "")
    text = " ".join(e["content"].split())
    return f"#{e['id']:<5} {_when(e['created_at'])}  {where:<20} [{e['type']}{flags}]  {text}"


def register(cli: click.Group) -> None:
    @cli.group()
    def context() -> None:
        """A project's context entries: what its agents are told.

        \b
        Examples:
          octractl context list myproject
          octractl context add myproject global rule "All times are UTC."
          octractl context add myproject team interface "GET /users -> [User]" --target a-3
          octractl context forget myproject "PostgreSQL"
          octractl context show myproject --agent a-12 --team a-3
        """

    @context.command("list")
    @click.argument("project")
    @click.option("--scope", type=click.Choice(SCOPES), help="Only this scope.")
    @click.option("--all", "include_forgotten", is_flag=True, help="Include forgotten entries.")
    @click.pass_obj
    def list_(opts: Options, project: str, scope: str | None, include_forgotten: bool) -> None:
        """List PROJECT's entries (id or name), oldest first."""
        from ..render import print_json

        params: dict = {"project": project, "include_forgotten": include_forgotten}
        if scope:
            params["scope"] = scope
        res = run(opts, lambda c: c.call("context.list", params))
        if opts.json:
            print_json(res)
            return
        if not res["entries"]:
            click.echo("no entries")
        for e in res["entries"]:
            click.echo(_describe(e))

    @context.command("add")
    @click.argument("project")
    @click.argument("scope", type=click.Choice(SCOPES))
    @click.argument("type")
    @click.argument("content")
    @click.option("--target", help="team: the team id (manager's agent id); individual: the agent id.")
    @click.option("--important", is_flag=True, help="Never removed by the automatic cleanup.")
    @click.pass_obj
    def add(opts: Options, project: str, scope: str, type: str, content: str, target: str | None, important: bool) -> None:
        """Add an entry of TYPE (rule, decision, fact, ...) to PROJECT; CONTENT "-" reads stdin."""
        from ..render import print_json

        if content == "-":
            content = sys.stdin.read()
        params: dict = {"project": project, "scope": scope, "type": type, "content": content, "important": important}
        if target is not None:
            params["target"] = target
        res = run(opts, lambda c: c.call("context.add", params))
        if opts.json:
            print_json(res)
        else:
            click.echo(f"added {_describe(res['entry'])}")

    @context.command("forget")
    @click.argument("project")
    @click.argument("match")
    @click.pass_obj
    def forget(opts: Options, project: str, match: str) -> None:
        """Forget PROJECT's entries whose content contains MATCH (case-insensitive)."""
        from ..render import print_json

        if not match.strip():
            fail("MATCH must not be empty", exitcodes.USAGE)
        res = run(opts, lambda c: c.call("context.forget", {"project": project, "match": match}))
        if opts.json:
            print_json(res)
        else:
            n = res["forgotten"]
            click.echo(f"forgot {n} entr{'y' if n == 1 else 'ies'}")

    @context.command("show")
    @click.argument("project")
    @click.option("--agent", help="The agent the block is for (sees its individual entries).")
    @click.option("--team", help="The agent's team id (sees that team's entries).")
    @click.option("--budget", type=int, help="Size budget in characters.")
    @click.pass_obj
    def show(opts: Options, project: str, agent: str | None, team: str | None, budget: int | None) -> None:
        """Print the context block an agent of PROJECT is given."""
        from ..render import print_json

        params: dict = {"project": project}
        for key, value in (("agent", agent), ("team", team), ("budget_chars", budget)):
            if value is not None:
                params[key] = value
        res = run(opts, lambda c: c.call("context.prompt", params))
        if opts.json:
            print_json(res)
        else:
            click.echo(res["prompt"] or "(no context entries visible)")
