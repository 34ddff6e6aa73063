"""Events per second from ``bus.publish`` to a live subscriber (stored in SQLite
first, then delivered), side by side with the raw operation underneath: the same
rows inserted with aiosqlite ``executemany`` in batches of the same size.

    .venv/bin/python bench/events.py [--events 50000]

The count received must equal the count sent, in order; the script says so.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from octrad.events import WRITE_BATCH, EventBus  # noqa: E402
from octrad.store import Database  # noqa: E402


async def through_bus(folder: Path, n: int, producers: int) -> tuple[float, int, bool]:
    db = await Database(folder / "bus.db").open()
    bus = EventBus(db)
    await bus.start()
    got: list[int] = []
    done = anyio.Event()

    async def deliver(ev):
        got.append(ev.seq)
        if len(got) == n:
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run_writer)
        sub = bus.subscribe("bench", None, None)
        tg.start_soon(bus.pump, sub, deliver)
        t0 = time.perf_counter()

        async def produce(k):
            for i in range(k, n, producers):
                await bus.publish("agent.log", {"i": i, "text": "compiling module"}, task_id="t1", agent_id="a1")

        async with anyio.create_task_group() as p:
            for k in range(producers):
                p.start_soon(produce, k)
        await done.wait()
        elapsed = time.perf_counter() - t0
        bus.unsubscribe("bench")
        await bus.close()
    await db.close()
    return elapsed, len(got), got == list(range(1, n + 1))


async def raw_inserts(folder: Path, n: int) -> float:
    import msgspec

    db = await Database(folder / "raw.db").open()
    t0 = time.perf_counter()
    for start in range(0, n, WRITE_BATCH):
        rows = [
            (i + 1, time.time(), "t1", "a1", "agent.log", msgspec.json.encode({"i": i, "text": "compiling module"}).decode())
            for i in range(start, min(n, start + WRITE_BATCH))
        ]
        await db.executemany("INSERT INTO events(seq, ts, task_id, agent_id, kind, data) VALUES (?,?,?,?,?,?)", rows)
    elapsed = time.perf_counter() - t0
    await db.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--producers", type=int, default=4)
    args = ap.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory(prefix="octb-ev-") as tmp:
        raw = anyio.run(raw_inserts, Path(tmp), n)
        bus, received, in_order = anyio.run(through_bus, Path(tmp), n, args.producers)
    print(f"{'':24}{'events/s':>10}  {'seconds':>8}")
    print(f"{'raw executemany':24}{n / raw:>10.0f}  {raw:>8.2f}")
    print(f"{'publish -> subscriber':24}{n / bus:>10.0f}  {bus:>8.2f}   ({bus / raw:.2f}x raw)")
    print(f"sent {n}, received {received}, in order: {in_order}")
    if received != n or not in_order:
        sys.exit(1)


if __name__ == "__main__":
    main()
