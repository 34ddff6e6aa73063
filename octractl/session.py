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


def run(opts: Options, body: Callable[[Any], Awaitable[Any]]) -> Any:
    """Connect (autostarting the daemon unless told not to), run ``body(client)``."""
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
        fail(str(exc), exitcodes.UNREACHABLE)
    except KeyboardInterrupt:
        sys.exit(130)
