"""octractl guides list|show."""

from __future__ import annotations

import click

from ..complete import guide_tools
from ..session import Options, run


def render_guide(g: dict) -> str:
    """A whole guide, readable."""
    lines = [f"{g['name']}  ({g['tool']}, {g['ecosystem']})", g["description"], ""]
    lines.append("keywords:      " + ", ".join(g["keywords"]))
    lines.append("stacks:        " + ", ".join(g["stacks"]))
    lines.append("needs:         " + ", ".join(g["tools"]))
    lines.append("nix packages:  " + ", ".join(g["nix_packages"]))
    lines.append("identified by: " + ", ".join(g["detect"]))
    lines.append(f"scaffold:      {g['scaffold']}")
    lines += ["", "commands:"]
    width = max(len(c["purpose"]) for c in g["commands"])
    for c in g["commands"]:
        lines.append(f"  {c['purpose']:<{width}}  {c['command']}")
        if c.get("description"):
            lines.append(f"  {'':<{width}}    {c['description']}")
    lines += ["", "structure:"] + [f"  {f['path']}" for f in g["structure"]]
    if g.get("notes"):
        lines += ["", "notes:"] + [f"  - {n}" for n in g["notes"]]
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    @cli.group()
    def guides() -> None:
        """Browse the tool guides (real commands and project layouts per build tool).

        \b
        Examples:
          octractl guides list
          octractl guides list --match "a REST API in Rust"
          octractl guides show cargo
        """

    @guides.command("list")
    @click.option("--stack", metavar="STACK", help="Only guides for this stack (rust, python, php, ...).")
    @click.option("--match", "match", metavar="TEXT", help="Only guides a task description names, best first.")
    @click.pass_obj
    def list_(opts: Options, stack: str | None, match: str | None) -> None:
        """List the guides: tool, ecosystem, description."""
        from ..render import print_json

        params = {k: v for k, v in (("stack", stack), ("match", match)) if v is not None}
        res = run(opts, lambda c: c.call("guides.list", params))
        if opts.json:
            print_json(res)
            return
        rows = res["guides"]
        if not rows:
            click.echo("no guides")
            return
        from ..render import table

        scored = any(g.get("score") is not None for g in rows)
        head = ("SCORE",) * scored + ("TOOL", "ECOSYSTEM", "DESCRIPTION")
        click.echo(table(head, [(str(g.get("score")),) * scored + (g["tool"], g["ecosystem"], g["description"]) for g in rows]))

    @guides.command("show")
    @click.argument("tool", shell_complete=guide_tools)
    @click.pass_obj
    def show(opts: Options, tool: str) -> None:
        """Print the whole guide for TOOL."""
        from ..render import print_json

        res = run(opts, lambda c: c.call("guides.get", {"tool": tool}))
        print_json(res) if opts.json else click.echo(render_guide(res))
