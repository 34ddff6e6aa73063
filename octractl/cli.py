"""``octractl``: every protocol operation as a command, ``--json`` output,
documented exit codes."""

from __future__ import annotations

import inspect
import json
import re
import sys

import click

from . import exitcodes
from .session import Options, fail, run

EPILOG = """\b
Exit codes:
  0  success
  1  the daemon answered with an error; for run/watch: the task failed or was cancelled
  2  usage error, or protocol version mismatch
  3  no daemon answers (and it could not be started)
  4  the task waits for you (plan approval or an answer)
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120}, epilog=EPILOG)
@click.option("--socket", metavar="PATH", envvar="OCTRA_SOCKET", help="Daemon socket [env OCTRA_SOCKET].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON; NDJSON for streams).")
@click.option("--no-autostart", is_flag=True, help="Do not start octrad when it is not running [env OCTRA_NO_AUTOSTART=1].")
@click.version_option(package_name="octra", prog_name="octractl")
@click.pass_context
def cli(ctx: click.Context, socket: str | None, as_json: bool, no_autostart: bool) -> None:
    """Control the Octra daemon from scripts and the shell.

    \b
    Examples:
      octractl status
      octractl rpc daemon.status
      octractl events --since 0
    """
    ctx.obj = Options(socket=socket, json=as_json, autostart=not no_autostart)


@cli.command()
@click.pass_obj
def status(opts: Options) -> None:
    """Show the daemon's version, pid, paths and load (starting it if needed)."""
    from .render import print_json, status as render

    st = run(opts, lambda c: c.call("daemon.status"))
    if opts.json:
        print_json(st)
    else:
        click.echo(render(st))


@cli.command()
@click.argument("method")
@click.argument("params", required=False)
@click.pass_obj
def rpc(opts: Options, method: str, params: str | None) -> None:
    """Call METHOD with PARAMS (a JSON object; "-" reads it from stdin); print the result as JSON.

    \b
    Example:
      octractl rpc events.subscribe '{"since_seq": 0}'
    """
    from .render import print_json

    if params == "-":
        params = sys.stdin.read()
    try:
        value = json.loads(params) if params else {}
    except json.JSONDecodeError as exc:
        fail(f"PARAMS is not valid JSON: {exc}", exitcodes.USAGE)
    if not isinstance(value, dict):
        fail("PARAMS must be a JSON object", exitcodes.USAGE)
    print_json(run(opts, lambda c: c.call(method, value)))


@cli.command()
@click.option("--task", "task_id", metavar="TASK", help="Only this task's events.")
@click.option("--since", "since", type=int, metavar="SEQ", help="Replay stored events after SEQ first (0: all).")
@click.option("--count", type=int, metavar="N", help="Stop after N events.")
@click.pass_obj
def events(opts: Options, task_id: str | None, since: int | None, count: int | None) -> None:
    """Print events as NDJSON until interrupted (or COUNT events)."""
    import msgspec

    from .render import print_ndjson

    async def body(client):
        from .commands.tasks import resolve

        n = 0
        tid = None
        if task_id is not None:
            tid = await resolve(client, task_id)
            await client.call("task.get", {"task_id": tid})  # an unknown task is an error, not a silent wait
        async with client.subscribe(task_id=tid, since_seq=since) as sub:
            async for ev in sub:
                print_ndjson(msgspec.to_builtins(ev))
                n += 1
                if count is not None and n >= count:
                    return

    try:
        run(opts, body)
    except BrokenPipeError:
        sys.exit(0)


from .commands import register_all  # noqa: E402

register_all(cli)


def _json_after_the_command(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Options).json = True


def _first_sentence(text: str) -> str:
    para = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    return re.split(r"(?<=\.)\s", para, maxsplit=1)[0].rstrip(".")


def _accept_json_everywhere(group: click.Group) -> None:
    """``--json`` also after the command (``octractl run "..." --json``), for every command;
    and each command's summary in the lists is its whole first sentence (click cuts it mid-phrase)."""
    for cmd in group.commands.values():
        if cmd.help and not cmd.short_help:
            cmd.short_help = _first_sentence(cmd.help)
        if isinstance(cmd, click.Group):
            _accept_json_everywhere(cmd)
        elif not any(p.name == "as_json" for p in cmd.params):
            cmd.params.append(click.Option(["--json", "as_json"], is_flag=True, expose_value=False, is_eager=True,
                                           callback=_json_after_the_command, help="Same as octractl --json."))


_accept_json_everywhere(cli)


def main() -> None:
    cli(prog_name="octractl")
