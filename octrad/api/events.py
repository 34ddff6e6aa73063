"""events.subscribe / events.unsubscribe: each subscription is pumped by a task
of its connection, so a slow client only slows itself."""

from __future__ import annotations

import secrets

from octra_protocol.errors import RpcError
from octra_protocol.events import EventNotification
from octra_protocol.methods.events import SubscribeResult
from octra_protocol.wire import Notification


def register(router) -> None:
    @router.method("events.subscribe", inline=True)
    async def subscribe(call, p):
        bus = call.daemon.bus
        conn = call.conn
        if p.since_seq is not None and p.since_seq < 0:
            raise RpcError.of("invalid_params", "since_seq must be >= 0")
        sid = "s" + secrets.token_hex(6)
        sub = bus.subscribe(sid, p.task_id, p.since_seq)
        conn.subscriptions.add(sid)

        async def deliver(ev):
            await conn.send_message(Notification("event", EventNotification(sid, ev)))

        conn.tg.start_soon(bus.pump, sub, deliver)
        return SubscribeResult(subscription=sid, last_seq=bus.committed_seq)

    @router.method("events.unsubscribe", inline=True)
    async def unsubscribe(call, p):
        if p.subscription not in call.conn.subscriptions:
            raise RpcError.of("not_found", f"no subscription {p.subscription!r} on this connection")
        call.conn.subscriptions.discard(p.subscription)
        call.daemon.bus.unsubscribe(p.subscription)
        return {}
