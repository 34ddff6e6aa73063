"""The async client shared by ``octractl`` and ``octra-tui``.

One connection carries many concurrent calls (matched by id) and any number
of event subscriptions (``event`` notifications routed by subscription id)::

    async with connect(client="my-tool") as c:
        status = await c.call("daemon.status")
        async with c.subscribe(task_id=t) as events:
            async for ev in events: ...
"""

from __future__ import annotations

import itertools
import math
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import msgspec

from . import PROTOCOL_VERSION
from .errors import PROTOCOL_MISMATCH, ConnectionLost, DaemonUnreachable, RpcError
from .events import Event, EventNotification
from .wire import Incoming, LineReader, Request, encode_line
from .paths import socket_path as resolve_socket_path

_decode_incoming = msgspec.json.Decoder(Incoming).decode
_decode_event_params = msgspec.json.Decoder(EventNotification).decode


def major(version: str) -> str:
    return version.split(".", 1)[0]


class Subscription:
    """An open event stream; iterate it for :class:`Event` objects."""

    def __init__(self, client: "Client", sid: str, last_seq: int, receive: Any):
        self.client = client
        self.id = sid
        #: the newest stored event when the subscription began
        self.last_seq = last_seq
        self._receive = receive

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Event:
        try:
            item = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        await self.client._unsubscribe(self.id)


class Client:
    def __init__(self, stream: Any, path: str):
        self._stream = stream
        self.path = path
        self._reader = LineReader(stream)
        self._ids = itertools.count(1)
        self._pending: dict[int, Any] = {}
        self._subs: dict[str, Any] = {}
        self._orphans: dict[str, list[Event]] = {}
        self._send_lock = anyio.Lock()
        self._closed: BaseException | None = None
        self.server: dict[str, Any] = {}

    # -- calls -------------------------------------------------------------
    async def call(self, method: str, params: Any = None, *, type: Any = None) -> Any:
        """Call ``method``; return its result (decoded into ``type`` if given).

        Raises :class:`RpcError` for an error answer and
        :class:`ConnectionLost` if the daemon goes away first.
        """
        if self._closed is not None:
            raise ConnectionLost(str(self._closed))
        rid = next(self._ids)
        send, receive = anyio.create_memory_object_stream(1)
        self._pending[rid] = send
        raw = msgspec.Raw(msgspec.json.encode(params if params is not None else {}))
        try:
            await self._send(encode_line(Request(method=method, params=raw, id=rid)))
            with receive:
                msg: Incoming = await receive.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ConnectionLost(f"connection to {self.path} lost during {method}") from None
        finally:
            self._pending.pop(rid, None)
        if msg.error is not None:
            raise RpcError(msg.error.code, msg.error.message, msg.error.data)
        if type is None:
            return msgspec.json.decode(msg.result)
        return msgspec.json.decode(msg.result, type=type)

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            await self._stream.send(data)

    # -- subscriptions ----------------------------------------------------
    @asynccontextmanager
    async def subscribe(
        self, task_id: str | None = None, since_seq: int | None = None
    ) -> AsyncIterator[Subscription]:
        send, receive = anyio.create_memory_object_stream(math.inf)
        params: dict[str, Any] = {}
        if task_id is not None:
            params["task_id"] = task_id
        if since_seq is not None:
            params["since_seq"] = since_seq
        result = await self.call("events.subscribe", params)
        sid = result["subscription"]
        self._subs[sid] = send
        for ev in self._orphans.pop(sid, []):
            send.send_nowait(ev)
        sub = Subscription(self, sid, result.get("last_seq", 0), receive)
        try:
            yield sub
        finally:
            await self._unsubscribe(sid)

    async def _unsubscribe(self, sid: str) -> None:
        send = self._subs.pop(sid, None)
        if send is None:
            return
        send.close()
        if self._closed is None:
            with anyio.CancelScope(shield=True):
                try:
                    await self.call("events.unsubscribe", {"subscription": sid})
                except (RpcError, ConnectionLost):
                    pass

    # -- reader -----------------------------------------------------------
    async def _read_loop(self) -> None:
        reason: BaseException = ConnectionLost(f"daemon closed the connection ({self.path})")
        try:
            while True:
                line = await self._reader.readline()
                if line is None:
                    break
                try:
                    msg = _decode_incoming(line)
                except msgspec.DecodeError:
                    continue
                if msg.method == "event":
                    self._route_event(msg.params)
                elif isinstance(msg.id, int):
                    send = self._pending.get(msg.id)
                    if send is not None:
                        send.send_nowait(msg)
        except Exception as exc:  # broken socket and the like
            reason = ConnectionLost(f"connection to {self.path} lost: {exc}")
        finally:
            self._closed = reason
            for send in list(self._pending.values()):
                send.close()
            for send in list(self._subs.values()):
                try:
                    send.send_nowait(reason)
                except anyio.BrokenResourceError:
                    pass
                send.close()

    def _route_event(self, raw: msgspec.Raw) -> None:
        try:
            note = _decode_event_params(raw)
        except msgspec.DecodeError:
            return
        send = self._subs.get(note.subscription)
        if send is None:
            # the notification can overtake the subscribe answer
            self._orphans.setdefault(note.subscription, []).append(note.event)
            return
        try:
            send.send_nowait(note.event)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    @property
    def closed(self) -> bool:
        return self._closed is not None


@asynccontextmanager
async def connect(
    path: str | None = None,
    *,
    client: str = "octra-client",
    autostart: bool = False,
    handshake: bool = True,
    timeout: float = 15.0,
) -> AsyncIterator[Client]:
    """Open a connection (starting the daemon first if ``autostart``)."""
    path = resolve_socket_path(path)
    if autostart:
        from .autostart import ensure_daemon

        await anyio.to_thread.run_sync(lambda: ensure_daemon(path, timeout=timeout))
    try:
        stream = await anyio.connect_unix(path)
    except (FileNotFoundError, ConnectionRefusedError, OSError) as exc:
        raise DaemonUnreachable(f"no daemon answers on {path}: {exc.strerror or exc}") from None
    try:
        async with stream, anyio.create_task_group() as tg:
            c = Client(stream, path)
            tg.start_soon(c._read_loop)
            try:
                if handshake:
                    c.server = await c.call(
                        "initialize", {"client": client, "protocol_version": PROTOCOL_VERSION}
                    )
                    theirs = c.server.get("protocol_version", "")
                    if major(theirs) != major(PROTOCOL_VERSION):
                        raise RpcError(
                            PROTOCOL_MISMATCH,
                            f"daemon speaks protocol {theirs}, this client {PROTOCOL_VERSION}",
                        )
                yield c
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # the caller's own exception, not wrapped by our reader's task group
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
