"""The event log: events are stored first, then delivered.

Producers ``await bus.publish(...)`` into a bounded channel (256, blocking
sends: nothing is ever dropped).  One writer task drains it in batches, assigns
the global ``seq``, commits, then hands the batch to live subscribers.  Each
subscriber has its own bounded queue; when it is full the subscriber is marked
*lagging* and its pump reads from the database until it has caught up, so a
slow reader never stalls the pipeline and never loses or repeats an event.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Awaitable, Callable

import anyio
import msgspec

from octra_protocol.events import Event

from .redact import redact_obj
from .store import Database

log = logging.getLogger(__name__)

CHANNEL_SIZE = 256
SUBSCRIBER_QUEUE = 1024
WRITE_BATCH = 512
CATCHUP_PAGE = 1000

_encode = msgspec.json.encode
_decode_data = msgspec.json.Decoder(dict).decode


class _Pending(msgspec.Struct):
    ts: float
    kind: str
    task_id: str | None
    agent_id: str | None
    data: dict[str, Any]
    done: anyio.Event | None = None


class Subscriber:
    """One subscription's delivery state (owned by the bus, pumped by :meth:`EventBus.pump`)."""

    def __init__(self, sid: str, task_id: str | None, last_seq: int, lagging: bool):
        self.id = sid
        self.task_id = task_id
        self.last_seq = last_seq
        self.lagging = lagging
        self.queue: deque[Event] = deque()
        self.wake = anyio.Event()
        self.closed = False

    def matches(self, ev: Event) -> bool:
        return self.task_id is None or ev.task_id == self.task_id


class EventBus:
    def __init__(self, db: Database):
        self.db = db
        self._send, self._receive = anyio.create_memory_object_stream[_Pending](CHANNEL_SIZE)
        #: highest seq committed *and* handed to live subscribers
        self.committed_seq = 0
        self._next_seq = 1
        self._subs: dict[str, Subscriber] = {}
        self._listeners: list[Callable[[Event], Any]] = []

    async def start(self) -> None:
        last = await self.db.scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        self.committed_seq = int(last)
        self._next_seq = self.committed_seq + 1

    # -- producing --------------------------------------------------------
    async def publish(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        agent_id: str | None = None,
        wait: bool = False,
    ) -> None:
        """Queue an event (blocks while the channel is full).

        With ``wait`` it returns only once the event is stored.
        """
        done = anyio.Event() if wait else None
        item = _Pending(time.time(), kind, task_id, agent_id, redact_obj(data or {}), done)
        await self._send.send(item)
        if done is not None:
            await done.wait()

    def add_listener(self, fn: Callable[[Event], Any]) -> None:
        """Call ``fn(event)`` (synchronously, in the writer) for each stored event."""
        self._listeners.append(fn)

    async def close(self) -> None:
        """Stop accepting events; the writer stores what is queued, then ends."""
        await self._send.aclose()

    # -- the writer -------------------------------------------------------
    async def run_writer(self) -> None:
        async with self._receive:
            while True:
                try:
                    first = await self._receive.receive()
                except anyio.EndOfStream:
                    return
                batch = [first]
                while len(batch) < WRITE_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                with anyio.CancelScope(shield=True):
                    await self._store(batch)

    async def _store(self, batch: list[_Pending]) -> None:
        events: list[Event] = []
        rows = []
        seq = self._next_seq
        for p in batch:
            ev = Event(seq=seq, ts=p.ts, kind=p.kind, task_id=p.task_id, agent_id=p.agent_id, data=p.data)
            events.append(ev)
            rows.append((seq, p.ts, p.task_id, p.agent_id, p.kind, _encode(p.data).decode()))
            seq += 1
        try:
            await self.db.executemany(
                "INSERT INTO events(seq, ts, task_id, agent_id, kind, data) VALUES (?,?,?,?,?,?)", rows
            )
        except Exception:
            log.exception("could not store %d events; they are lost", len(rows))
            for p in batch:
                if p.done is not None:
                    p.done.set()
            return
        self._next_seq = seq
        self.committed_seq = seq - 1
        # hand over to subscribers: no await from here on, so this is atomic
        for sub in self._subs.values():
            if sub.lagging or sub.closed:
                continue
            for ev in events:
                if not sub.matches(ev):
                    continue
                if len(sub.queue) >= SUBSCRIBER_QUEUE:
                    sub.lagging = True
                    sub.queue.clear()
                    break
                sub.queue.append(ev)
            sub.wake.set()
        for fn in self._listeners:
            for ev in events:
                try:
                    fn(ev)
                except Exception:
                    log.exception("event listener failed")
        for p in batch:
            if p.done is not None:
                p.done.set()

    # -- consuming --------------------------------------------------------
    def subscribe(self, sid: str, task_id: str | None, since_seq: int | None) -> Subscriber:
        if since_seq is None:
            sub = Subscriber(sid, task_id, self.committed_seq, lagging=False)
        else:
            # a seq from the future (an older database's, say) must not hide every event to come
            sub = Subscriber(sid, task_id, min(max(0, since_seq), self.committed_seq), lagging=True)
        self._subs[sid] = sub
        return sub

    def unsubscribe(self, sid: str) -> bool:
        sub = self._subs.pop(sid, None)
        if sub is None:
            return False
        sub.closed = True
        sub.wake.set()
        return True

    async def pump(self, sub: Subscriber, deliver: Callable[[Event], Awaitable[None]]) -> None:
        """Deliver ``sub``'s events in order until it is unsubscribed."""
        while not sub.closed:
            if sub.queue:
                ev = sub.queue.popleft()
                if ev.seq > sub.last_seq:
                    await deliver(ev)
                    sub.last_seq = ev.seq
                continue
            if sub.lagging:
                await self._catch_up(sub, deliver)
                continue
            sub.wake = anyio.Event()
            if not sub.queue and not sub.lagging and not sub.closed:
                await sub.wake.wait()

    async def _catch_up(self, sub: Subscriber, deliver: Callable[[Event], Awaitable[None]]) -> None:
        upto = self.committed_seq
        sql = "SELECT seq, ts, task_id, agent_id, kind, data FROM events WHERE seq > ? AND seq <= ?"
        args: list[Any] = [sub.last_seq, upto]
        if sub.task_id is not None:
            sql += " AND task_id = ?"
            args.append(sub.task_id)
        sql += f" ORDER BY seq LIMIT {CATCHUP_PAGE}"
        rows = await self.db.fetchall(sql, args)
        for r in rows:
            if sub.closed:
                return
            ev = Event(seq=r[0], ts=r[1], task_id=r[2], agent_id=r[3], kind=r[4], data=_decode_data(r[5]))
            await deliver(ev)
            sub.last_seq = ev.seq
        if len(rows) < CATCHUP_PAGE:
            # everything up to ``upto`` is delivered
            sub.last_seq = max(sub.last_seq, upto)
            if self.committed_seq == upto:
                sub.lagging = False
                sub.queue.clear()
