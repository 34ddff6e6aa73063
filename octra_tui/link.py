"""The TUI's connection to the daemon: calls, one event stream of every task,
and reconnection with backoff that resumes the stream from the last ``seq``
seen (the daemon replays what was missed, with no gap and no duplicate).

It knows nothing of Textual: the app hands it two callbacks, one for each
event (kept cheap: the app only queues it) and one for state changes.
"""

from __future__ import annotations

from typing import Any, Callable

import anyio

from octra_protocol.client import Client, connect
from octra_protocol.errors import ConnectionLost, DaemonUnreachable, RpcError

#: seconds between reconnection attempts: doubled after each failure, up to the cap
BACKOFF_START = 0.25
BACKOFF_CAP = 5.0


class NotConnected(Exception):
    """A call was made while the daemon is unreachable (the link is retrying)."""


class Link:
    """``await link.run()`` keeps a connection up until cancelled."""

    def __init__(
        self,
        socket: str | None,
        *,
        autostart: bool,
        on_event: Callable[[Any], None],
        on_state: Callable[[str, str], None],
        on_ready: Callable[[bool], Any] | None = None,
    ):
        self.socket = socket
        self.autostart = autostart
        self.on_event = on_event
        self.on_state = on_state
        self.on_ready = on_ready
        self.client: Client | None = None
        #: the newest seq received on the stream (None before the first subscription)
        self.seq: int | None = None
        #: the newest stored seq when the stream first began: older events are history
        self.start_seq: int | None = None
        self.server: dict[str, Any] = {}
        self.attempts = 0
        self._wake = anyio.Event()

    async def run(self) -> None:
        backoff = BACKOFF_START
        first = True
        while True:
            self.on_state("connecting", "" if first else f"attempt {self.attempts + 1}")
            try:
                # as the CLI does: a daemon that went away is started again (unless
                # autostart is off); one that is restarting wins the race and is used
                async with connect(self.socket, client="octra-tui", autostart=self.autostart) as c:
                    self.client = c
                    self.server = c.server
                    await self._stream(c)
                reason = "the daemon closed the connection"
            except RpcError as exc:
                if exc.kind == "protocol_mismatch":
                    self.on_state("incompatible", exc.message)
                    return
                reason = exc.message
            except (DaemonUnreachable, ConnectionLost, OSError) as exc:
                reason = str(exc)
            finally:
                self.client = None
            if self.seq is not None and self.attempts == 0:
                backoff = BACKOFF_START  # it was up: start the backoff over
            first = False
            self.attempts += 1
            self.on_state("disconnected", f"retrying in {backoff:.1f}s (f5: now{', starting octrad' if self.autostart else ''})  {reason}")
            self._wake = anyio.Event()
            with anyio.move_on_after(backoff):
                await self._wake.wait()
            backoff = min(backoff * 2, BACKOFF_CAP)

    async def _stream(self, c: Client) -> None:
        async with c.subscribe(since_seq=self.seq) as sub:
            resumed = self.seq is not None
            if self.start_seq is None:
                self.start_seq = sub.last_seq
            if self.seq is None:
                self.seq = sub.last_seq
            self.attempts = 0
            self.on_state("connected", f"octrad {c.server.get('server_version', '?')}")
            if self.on_ready is not None:
                self.on_ready(resumed)
            async for ev in sub:
                self.seq = ev.seq
                self.on_event(ev)

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait (the next attempt starts the daemon unless autostart is off)."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self.client is not None and not self.client.closed

    async def call(self, method: str, params: Any = None) -> Any:
        c = self.client
        if c is None or c.closed:
            raise NotConnected("not connected to octrad (reconnecting…)")
        return await c.call(method, params)

    async def history(self, task_id: str, upto: int) -> list[Any]:
        """The task's stored events with seq <= ``upto`` (newer ones come on the stream)."""
        c = self.client
        if c is None or c.closed:
            raise NotConnected("not connected to octrad (reconnecting…)")
        out: list[Any] = []
        async with c.subscribe(task_id=task_id, since_seq=0) as sub:
            task = await c.call("task.get", {"task_id": task_id})
            last = min(task.get("last_seq", 0), upto)
            if last <= 0:
                return out
            async for ev in sub:
                if ev.seq > upto:
                    break
                out.append(ev)
                if ev.seq >= last:
                    break
        return out
