"""octractl eval [SUITE] | eval compare A B: how often Octra's projects actually work."""

from __future__ import annotations

import click

from .. import exitcodes
from ..session import Options, fail, run


class _RunByDefault(click.Group):
    """``octractl eval [SUITE] [OPTIONS]`` runs a suite; ``octractl eval compare A B`` compares runs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _issue_urls(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name.strip() or not url.strip():
            fail(f"--issue-url takes TASK=URL, not {pair!r}", exitcodes.USAGE)
        out[name.strip()] = url.strip()
    return out


def register(cli: click.Group) -> None:
    @cli.group("eval", cls=_RunByDefault)
    def eval_() -> None:
        """Measure how often Octra's projects work: run a suite of tasks, judge each by an acceptance script.

        \b
        octractl eval [SUITE] --provider P ...   run a suite (see: octractl eval run --help)
        octractl eval compare A B                 two runs side by side
        """

    @eval_.command("run")
    @click.argument("suite", required=False, type=click.Path(file_okay=False))
    @click.option("--provider", metavar="P", help="A configured provider, or offline (the daemon's default otherwise).")
    @click.option("--model", metavar="M", help="Model name for the provider.")
    @click.option("--tasks", "only", metavar="A,B",
                  help="Only these tasks (a follow-up brings the task it follows); with --resume: the run's own by default.")
    @click.option("--parallel", type=click.IntRange(1, 16), default=None, help="Tasks at once (default 1).")
    @click.option("--budget-usd", type=click.FloatRange(min=0), default=None, help="Stop starting tasks once this much is spent.")
    @click.option("--out", type=click.Path(file_okay=False), help="Results folder (default ./eval-PROVIDER-TIME).")
    @click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True),
                  help="Continue the run in this results folder: finished tasks are skipped.")
    @click.option("--issue-url", "issue_urls", multiple=True, metavar="TASK=URL",
                  help="A GitHub issue for a task with [github] (otherwise it is skipped, saying why).")
    @click.option("--list", "list_only", is_flag=True, help="List the suite's tasks and exit.")
    @click.pass_obj
    def run_(opts: Options, suite, provider, model, only, parallel, budget_usd, out, resume, issue_urls, list_only) -> None:
        """Run SUITE (default: the suite shipped with Octra) and judge every task.

        Each task runs through the daemon like `octractl run`; once it stops, its
        snapshot is restored into a scratch folder and the task's acceptance script
        (which the model never saw) checks it from the outside, in the sandbox.
        results.json (written after every task) and report.html go to --out.

        \b
        Examples:
          octractl eval --provider offline
          octractl eval --provider openai --model gpt-4o-mini --parallel 2 --budget-usd 2
          octractl eval ./my-suite --provider ollama --tasks py-wordfreq,node-slugify
          octractl eval --resume eval-openai-20260101-120000
          octractl eval compare eval-a eval-b
        """
        import time
        from pathlib import Path

        from ..eval import report, results
        from ..eval.suite import SuiteError, default_suite, load_suite, select

        data = None
        if resume:
            try:
                data = results.load(resume)
            except results.ResultsError as exc:
                fail(str(exc), exitcodes.USAGE)
            if provider and provider.strip().lower() != data["provider"]:
                fail(f"{resume} is a run with provider {data['provider']!r}; resume it without --provider, "
                     "or start a new run with --out", exitcodes.USAGE)
            suite = suite or data["suite"]
            out = resume
        folder = Path(suite) if suite else default_suite()
        names = [n.strip() for n in only.split(",") if n.strip()] if only else (data or {}).get("only")
        try:
            tasks = select(load_suite(folder), names)
        except SuiteError as exc:
            fail(str(exc), exitcodes.USAGE)
        if list_only:
            for t in tasks:
                extra = f" (follows {t.follows})" if t.follows else " [github]" if t.github else ""
                click.echo(f"{t.name:22} {t.stack or '-':10} {t.description[:80]}{extra}")
            return
        provider = provider.strip().lower() if provider else None
        if data is None:
            out = out or f"eval-{provider or 'default'}-{time.strftime('%Y%m%d-%H%M%S')}"
            if (Path(out) / results.FILE).exists():
                fail(f"{out} already holds a run; continue it with --resume {out}, or give another --out", exitcodes.USAGE)
            data = results.new(suite=str(folder.resolve()), provider=provider, model=model, parallel=parallel or 1,
                               budget_usd=budget_usd)
        data["only"] = names
        urls = _issue_urls(issue_urls)
        unknown = set(urls) - {t.name for t in tasks}
        if unknown:
            fail(f"--issue-url names no task of the suite: {', '.join(sorted(unknown))}", exitcodes.USAGE)

        from ..eval.progress import Progress
        from ..eval.runner import Runner, RunOptions

        ropts = RunOptions(provider=data["provider"], model=data.get("model"), parallel=parallel or data.get("parallel") or 1,
                           budget_usd=budget_usd if budget_usd is not None else data.get("budget_usd"), issue_urls=urls)
        progress = Progress(total=len(tasks))

        async def body(client):
            import anyio

            if data["provider"] is None:  # record what the daemon's default was
                data["provider"] = (await client.call("daemon.status"))["default_provider"]
            runner = Runner(client, tasks, data, Path(out), ropts, progress)
            async with anyio.create_task_group() as tg:
                async def tick():
                    while True:
                        await anyio.sleep(1)
                        progress.draw()

                tg.start_soon(tick)
                await runner.run()
                tg.cancel_scope.cancel()

        click.echo(f"octractl eval: {len(tasks)} task(s) from {folder} -> {out}", err=True)
        results.save(out, data)
        try:
            run(opts, body)
        except SystemExit:
            progress.close()
            results.save(out, data)
            click.echo(f"octractl eval: stopped; what finished is in {out}/results.json; continue with: "
                       f"octractl eval --resume {out}", err=True)
            raise
        progress.close()
        html = report.write_html(out, data)
        if opts.json:
            from ..render import print_json

            print_json({"out": str(out), "summary": results.summary(data), "tasks": data["tasks"]})
        else:
            click.echo("")
            click.echo(report.text(data))
            click.echo(f"\nresults: {Path(out) / results.FILE}\nreport:  {html}")
        if any(r.get("state") == "error" for r in data["tasks"].values()):
            fail(f"some tasks could not be run (see above); try them again with: octractl eval --resume {out}",
                 exitcodes.DAEMON_ERROR)

    @eval_.command("compare")
    @click.argument("a", type=click.Path(file_okay=False, exists=True))
    @click.argument("b", type=click.Path(file_okay=False, exists=True))
    @click.pass_obj
    def compare(opts: Options, a, b) -> None:
        """Two eval runs (results folders) side by side: pass rate, cost, tokens, time, flipped tasks."""
        from ..eval import results
        from ..eval.compare import compare as side_by_side

        try:
            ra, rb = results.load(a), results.load(b)
        except results.ResultsError as exc:
            fail(str(exc), exitcodes.USAGE)
        if opts.json:
            from ..render import print_json

            print_json({"a": results.summary(ra), "b": results.summary(rb)})
            return
        click.echo(side_by_side(ra, rb, a, b))
