"""The event log: stored before delivery, global seq, no loss, no duplicates,
catch-up with since_seq, slow subscribers that never stall the writer."""

from __future__ import annotations

import sqlite3

import anyio
import msgspec

from octrad.events import SUBSCRIBER_QUEUE, EventBus
from octrad.store import Database


async def _bus(tmp_path):
    db = await Database(tmp_path / "octra.db").open()
    bus = EventBus(db)
    await bus.start()
    return db, bus


async def test_bulk_publish_every_subscriber_gets_everything_in_order(tmp_path):
    db, bus = await _bus(tmp_path)
    total = 6000
    got: dict[str, list[int]] = {"live": [], "mid": [], "slow": [], "task": []}
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run_writer)

            def collector(name, delay=0.0):
                async def deliver(ev):
                    got[name].append(ev.seq)
                    if delay:
                        await anyio.sleep(delay)
                return deliver

            live = bus.subscribe("live", None, None)
            tg.start_soon(bus.pump, live, collector("live"))
            slow = bus.subscribe("slow", None, None)
            # slower than the producers: its queue overflows and it must catch up from the db
            tg.start_soon(bus.pump, slow, collector("slow", 0.0002))
            only = bus.subscribe("task", "t-odd", None)
            tg.start_soon(bus.pump, only, collector("task"))

            async def produce(start, step):
                for i in range(start, total, step):
                    await bus.publish("agent.log", {"i": i}, task_id="t-odd" if i % 2 else "t-even")

            async with anyio.create_task_group() as producers:
                for k in range(4):
                    producers.start_soon(produce, k, 4)
                    if k == 1:
                        # a subscriber that joins mid-stream and asks for everything after seq 100
                        # (once 100 are stored: a seq from the future is clamped to the last stored one)
                        while bus.committed_seq < 100:
                            await anyio.sleep(0.001)
                        mid = bus.subscribe("mid", None, 100)
                        tg.start_soon(bus.pump, mid, collector("mid"))
            with anyio.fail_after(60):
                while min(len(got["live"]), len(got["slow"]), len(got["mid"]) + 100) < total or len(got["task"]) < total // 2:
                    await anyio.sleep(0.02)
            for sid in ("live", "slow", "mid", "task"):
                bus.unsubscribe(sid)
            await bus.close()
        stored = [r[0] for r in await db.fetchall("SELECT seq FROM events ORDER BY seq")]
        odd = [r[0] for r in await db.fetchall("SELECT seq FROM events WHERE task_id='t-odd' ORDER BY seq")]
    finally:
        await db.close()
    assert stored == list(range(1, total + 1))
    assert got["live"] == stored
    assert got["slow"] == stored, "the slow subscriber lost or repeated events"
    assert got["mid"] == stored[100:]
    assert got["task"] == odd
    assert SUBSCRIBER_QUEUE < total  # the slow path was really exercised


async def test_publish_blocks_when_channel_is_full_and_nothing_is_dropped(tmp_path):
    db, bus = await _bus(tmp_path)
    sent = 0
    try:
        async with anyio.create_task_group() as tg:
            # no writer yet: the 257th publish must wait
            async def produce():
                nonlocal sent
                for i in range(600):
                    await bus.publish("agent.log", {"i": i})
                    sent += 1

            tg.start_soon(produce)
            await anyio.sleep(0.2)
            assert sent == 256
            tg.start_soon(bus.run_writer)
            with anyio.fail_after(20):
                while sent < 600:
                    await anyio.sleep(0.01)
            await bus.publish("task.finished", {}, wait=True)
            await bus.close()
        assert await db.scalar("SELECT COUNT(*) FROM events") == 601
    finally:
        await db.close()


async def test_seq_continues_after_restart_and_data_is_redacted(tmp_path):
    from octrad import redact

    redact.register("sk-test-very-secret-123")
    db, bus = await _bus(tmp_path)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run_writer)
        await bus.publish("agent.log", {"text": "key is sk-test-very-secret-123!"}, wait=True)
        await bus.close()
    await db.close()
    db, bus = await _bus(tmp_path)
    assert bus.committed_seq == 1
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run_writer)
        await bus.publish("agent.log", {}, wait=True)
        await bus.close()
    rows = await db.fetchall("SELECT seq, data FROM events ORDER BY seq")
    await db.close()
    assert [r[0] for r in rows] == [1, 2]
    assert "sk-test" not in rows[0][1] and "***" in rows[0][1]


def _seed_events(db_path, n):
    con = sqlite3.connect(db_path)
    con.executemany(
        "INSERT INTO events(seq, ts, task_id, agent_id, kind, data) VALUES (?,?,?,?,?,?)",
        [(i, 1000.0 + i, f"t{i % 3}", None, "agent.log", msgspec.json.encode({"i": i}).decode()) for i in range(1, n + 1)],
    )
    con.commit()
    con.close()


async def test_since_seq_over_the_socket(daemon):
    # events stored by an earlier run of the daemon are replayed after since_seq
    daemon.stop()
    _seed_events(daemon.oenv.data_dir / "octra.db", 2500)
    daemon.start()
    async with daemon.connect() as c:
        async with c.subscribe(since_seq=40) as sub:
            assert sub.last_seq == 2500
            seqs = []
            async for ev in sub:
                seqs.append(ev.seq)
                if ev.seq == 2500:
                    break
        assert seqs == list(range(41, 2501))
        async with c.subscribe(task_id="t1", since_seq=0) as sub:
            seqs = []
            async for ev in sub:
                assert ev.task_id == "t1" and ev.data == {"i": ev.seq}
                seqs.append(ev.seq)
                if ev.seq == 2500:
                    break
        assert seqs == [i for i in range(1, 2501) if i % 3 == 1]
        res = await c.call("events.subscribe", {"since_seq": 2500})
        assert await c.call("events.unsubscribe", {"subscription": res["subscription"]}) == {}
        try:
            await c.call("events.unsubscribe", {"subscription": res["subscription"]})
        except Exception as exc:
            assert exc.code == -32001
        else:
            raise AssertionError("unsubscribing twice must fail")


def test_events_cli_prints_ndjson(daemon):
    import json

    daemon.stop()
    _seed_events(daemon.oenv.data_dir / "octra.db", 30)
    daemon.start()
    out = daemon.ctl("events", "--since", "25", "--count", "5")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l["seq"] for l in lines] == [26, 27, 28, 29, 30]
    assert lines[0]["kind"] == "agent.log" and lines[0]["data"] == {"i": 26}


async def test_cancelled_writers_never_leave_a_transaction_open(tmp_path):
    """Writes cancelled at any point (tasks cancel each other) leave the database usable."""
    db = await Database(tmp_path / "octra.db").open()
    try:
        for delay in (0, 0.0001, 0.0005, 0.001, 0.002):
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    async def write(i=i):
                        await db.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (f"k{i}", "1"))
                    tg.start_soon(write)
                await anyio.sleep(delay)
                tg.cancel_scope.cancel()
            # the connection is not stuck inside a transaction
            await db.execute("INSERT INTO settings(key, value) VALUES ('after', '1') ON CONFLICT(key) DO NOTHING")
        assert await db.scalar("SELECT value FROM settings WHERE key = 'after'") == "1"
    finally:
        await db.close()


async def test_a_since_seq_from_the_future_still_gets_new_events(tmp_path):
    db, bus = await _bus(tmp_path)
    got = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run_writer)
            await bus.publish("agent.log", {"i": 0}, wait=True)
            sub = bus.subscribe("future", None, 10_000)  # e.g. a seq remembered from another database

            async def deliver(ev):
                got.append(ev.seq)

            tg.start_soon(bus.pump, sub, deliver)
            for i in range(1, 4):
                await bus.publish("agent.log", {"i": i}, wait=True)
            with anyio.fail_after(10):
                while len(got) < 3:
                    await anyio.sleep(0.01)
            bus.unsubscribe("future")
            await bus.close()
    finally:
        await db.close()
    assert got == [2, 3, 4]
