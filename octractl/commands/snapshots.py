"""octractl snapshots PROJECT, octractl restore TASK [--to DIR], octractl gc [--keep N]."""

from __future__ import annotations

import os

import click

from ..complete import task_ids
from ..session import Options, run


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("project")
    @click.pass_obj
    def snapshots(opts: Options, project: str) -> None:
        """List PROJECT's snapshots in the Nix store, newest first."""
        import time

        from ..render import print_json

        res = run(opts, lambda c: c.call("project.snapshots", {"project": project}))
        if opts.json:
            print_json(res)
            return
        rows = res["snapshots"]
        if not rows:
            click.echo(f"{project} has no snapshots")
            return
        click.echo(f"{'TASK':<14} {'CREATED':<19} {'FILES':>7} {'SIZE':>10}  STORE PATH")
        for s in rows:
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["created_at"]))
            click.echo(f"{s['task_id']:<14} {created:<19} {s['files']:>7} {_size(s['bytes']):>10}  {s['store_path']}")

    @cli.command()
    @click.argument("task", shell_complete=task_ids)
    @click.option("--to", "dest", metavar="DIR", help="Where to restore (must not exist or be empty) [default: the project's folder].")
    @click.pass_obj
    def restore(opts: Options, task: str, dest: str | None) -> None:
        """Copy TASK's snapshot out of the Nix store (writable, with its git history).

        TASK is a task id, a unique start of one, or `last`."""
        from ..render import print_json

        from .tasks import resolve

        params = {}
        if dest is not None:
            params["dest"] = os.path.abspath(os.path.expanduser(dest))

        async def body(c):
            from octra_protocol.errors import RpcError

            params["task_id"] = await resolve(c, task)
            try:
                return await c.call("project.restore", params)
            except RpcError as exc:
                if exc.kind == "not_found":
                    await c.call("task.get", {"task_id": params["task_id"]})  # "no task" rather than "no snapshot"
                raise

        res = run(opts, body)
        print_json(res) if opts.json else click.echo(res["path"])

    @cli.command()
    @click.option("--keep", type=click.IntRange(min=1), default=3, show_default=True, metavar="N", help="Snapshots kept per project.")
    @click.option("--project", metavar="PROJECT", help="Only this project.")
    @click.pass_obj
    def gc(opts: Options, keep: int, project: str | None) -> None:
        """Drop all but the newest N snapshots of each project and let Nix delete them."""
        from ..render import print_json

        params = {"keep": keep}
        if project:
            params["project"] = project
        res = run(opts, lambda c: c.call("project.gc", params))
        if opts.json:
            print_json(res)
        else:
            click.echo(f"dropped {res['dropped']} snapshot(s), kept {res['kept']}; Nix deleted {len(res['deleted'])} store path(s)")
            for p in res["deleted"]:
                click.echo(f"  {p}")
