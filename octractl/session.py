"""Running a command's coroutine against the daemon, with expected failures
turned into one-line messages and the documented exit codes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import click

from . import exitcodes


@dataclass
class Options:
    socket: str | None
    json: bool
    autostart: bool


def fail(message: str, code: int) -> None:
    click.echo(f"octractl: {message}", err=True)
    sys.exit(code)


def run(opts: Options, body: Callable[[Any], Awaitable[Any]], following: dict | None = None) -> Any:
    """Connect (autostarting the daemon unless told not to), run ``body(client)``.

    ``following["task_id"]``, set by a body that follows a task, makes an
    interruption say what happens to the task and how to pick it up again."""
    following = following if following is not None else {}
    import anyio

    from octra_protocol.autostart import autostart_disabled
    from octra_protocol.client import connect
    from octra_protocol.errors import ConnectionLost, DaemonUnreachable, RpcError

    autostart = opts.autostart and not autostart_disabled()

    async def main() -> Any:
        async with connect(opts.socket, client="octractl", autostart=autostart) as client:
            return await body(client)

    try:
        return anyio.run(main)
    except RpcError as exc:
        if exc.kind == "protocol_mismatch":
            fail(f"protocol mismatch: {exc.message}", exitcodes.USAGE)
        detail = exc.data.get("detail")
        extra = f" ({exc.kind})" if exc.kind else ""
        fail(f"error{extra}: {exc.message}" + (f"\n  {detail}" if detail and detail not in exc.message else ""), exitcodes.DAEMON_ERROR)
    except DaemonUnreachable as exc:
        hint = "" if autostart else " (autostart is off)"
        fail(f"{exc}{hint}", exitcodes.UNREACHABLE)
    except ConnectionLost as exc:
        tid = following.get("task_id")
        if tid:
            fail(f"{exc}: the daemon stopped or restarted while task {tid} ran. A task stopped with the daemon is "
                 f"interrupted: see it with `octractl show {tid}`, continue it with `octractl resume {tid} --wait`",
                 exitcodes.UNREACHABLE)
        fail(str(exc), exitcodes.UNREACHABLE)
    except KeyboardInterrupt:
        tid = following.get("task_id")
        if tid:
            click.echo(f"\noctractl: stopped following {tid}; the task goes on in the daemon. "
                       f"Follow it again: octractl watch {tid}; stop it: octractl cancel {tid}", err=True)
        sys.exit(130)
