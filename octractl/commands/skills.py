"""octractl skills catalog|search|show."""

from __future__ import annotations

import click

from ..session import Options, run


def _table(skills: list[dict], with_score: bool) -> None:
    if not skills:
        click.echo("no skills")
        return
    width = max(len(s["slug"]) for s in skills)
    for s in skills:
        score = f"{s['score']:>4}  " if with_score else ""
        mark = " (user)" if s.get("source") == "user" else ""
        click.echo(f"{score}{s['slug']:<{width}}  {s['area']:<12}  w{s['weight']}  {s['name']}{mark}")


def register(cli: click.Group) -> None:
    @cli.group()
    def skills() -> None:
        """Browse the skill warehouse (the guidance fragments given to agents).

        \b
        Examples:
          octractl skills catalog --category backend
          octractl skills search "backend api worker" --tech "python fastapi" --task "add pagination"
          octractl skills show api-pagination http-caching
        """

    @skills.command("catalog")
    @click.option("--category", "-c", "categories", multiple=True, metavar="AREA", help="Only this area (repeatable).")
    @click.pass_obj
    def catalog(opts: Options, categories: tuple[str, ...]) -> None:
        """List every fragment (slug, area, weight, name)."""
        from ..render import print_json

        params = {"categories": list(categories)} if categories else {}
        res = run(opts, lambda c: c.call("skills.catalog", params))
        print_json(res) if opts.json else _table(res["skills"], False)

    @skills.command("search")
    @click.argument("role")
    @click.option("--tech", default="", help="The stack, e.g. \"go postgres\".")
    @click.option("--task", default="", help="What the agent is asked to do.")
    @click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many.")
    @click.option("--category", "-c", "categories", multiple=True, metavar="AREA", help="Only this area (repeatable).")
    @click.pass_obj
    def search(opts: Options, role: str, tech: str, task: str, k: int, categories: tuple[str, ...]) -> None:
        """The K fragments most relevant to ROLE, a stack and a task, best first, with scores."""
        from ..render import print_json

        params = {"role": role, "tech": tech, "task": task, "k": k}
        if categories:
            params["categories"] = list(categories)
        res = run(opts, lambda c: c.call("skills.search", params))
        print_json(res) if opts.json else _table(res["skills"], True)

    @skills.command("show")
    @click.argument("slugs", nargs=-1, required=True)
    @click.pass_obj
    def show(opts: Options, slugs: tuple[str, ...]) -> None:
        """Print the fragments named by SLUGS as an agent gets them."""
        from ..render import print_json

        res = run(opts, lambda c: c.call("skills.select", {"slugs": list(slugs)}))
        print_json(res) if opts.json else click.echo(res["text"])
