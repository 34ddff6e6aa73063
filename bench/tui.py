"""How much the TUI absorbs while staying responsive, and what 100,000 log lines cost.

    .venv/bin/python bench/tui.py [--events 10000] [--lines 100000]

The app runs headless (``App.run_test``) connected to a real daemon.  Events
of a realistic mix (streamed output, calls, files, commands with output) are
handed to the app through the same callback the connection uses, in bursts,
while keys are pressed; each key press is timed until its effect is visible.

Side by side, in the same run:
- batched (what the app does: events queued, applied on a 50 ms timer) vs
  per-event (the baseline: apply and draw each event as it comes);
- memory of the bounded log after 100,000 and after 200,000 lines vs the
  bytes of the text itself.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._daemon import percentile, running_daemon  # noqa: E402
from octra_protocol.events import Event  # noqa: E402
from octra_tui.app import OctraApp  # noqa: E402
from octra_tui.model import TaskModel  # noqa: E402

TID = "tbench00000"


async def press(app: OctraApp, key: str, effect) -> float:
    """Send a key as the terminal driver would; milliseconds until its effect shows in the app."""
    from textual import events as tev

    ev = tev.Key(key, key if len(key) == 1 else None)
    ev.set_sender(app)
    k0 = time.perf_counter()
    app._driver.send_message(ev)
    while not effect():
        await anyio.sleep(0.0005)
    return (time.perf_counter() - k0) * 1000
BURST = 200


def events(n: int, start: int = 1) -> list[Event]:
    """A boss, two managers, six workers, then n events of a run's usual mix."""
    out: list[Event] = []
    seq = start
    tree = [("b", "boss", "boss", None)] + [(f"m{i}", "manager", f"team{i}", "b") for i in range(2)] + [
        (f"w{i}", "worker", f"worker{i}", f"m{i % 2}") for i in range(6)]
    for aid, kind, role, parent in tree:
        out.append(Event(seq=seq, ts=0.0, kind="agent.spawned", task_id=TID, agent_id=aid,
                         data={"kind": kind, "role": role, "parent_id": parent}))
        seq += 1
    i = 0
    while len(out) < n:
        aid = f"w{i % 6}"
        k = i % 10
        if k < 6:
            ev = Event(seq=seq, ts=0.0, kind="agent.log", task_id=TID, agent_id=aid,
                       data={"source": "llm", "text": f'{{"path": "src/mod{i}.py", "line": {i}}}\n'})
        elif k == 6:
            ev = Event(seq=seq, ts=0.0, kind="llm.call", task_id=TID, agent_id=aid,
                       data={"step": f"s{i}", "model": "m", "tokens_in": 100, "tokens_out": 50, "latency_ms": 12.0})
        elif k == 7:
            ev = Event(seq=seq, ts=0.0, kind="file.written", task_id=TID, agent_id=aid, data={"path": f"src/f{i}.py", "bytes": 120})
        elif k == 8:
            ev = Event(seq=seq, ts=0.0, kind="command.started", task_id=TID, agent_id=aid, data={"command": "pytest -q"})
        else:
            ev = Event(seq=seq, ts=0.0, kind="command.finished", task_id=TID, agent_id=aid,
                       data={"command": "pytest -q", "exit_code": 0, "duration_s": 0.5, "output_tail": "...\n3 passed"})
        out.append(ev)
        seq += 1
        i += 1
    return out


async def prepare(app: OctraApp, pilot) -> None:
    with anyio.fail_after(20):
        while app.connection != "connected":
            await pilot.pause(0.02)
    app.models[TID] = TaskModel(TID)
    app.tasks[TID] = {"task_id": TID, "project_id": "pbench", "description": "bench", "status": "building", "created_at": 0}
    app.select_task(TID)
    await pilot.pause(0.1)


async def absorb(socket: str, n: int, batched: bool) -> dict:
    """Feed n events in bursts while pressing keys; time both."""
    app = OctraApp(socket=socket, autostart=False)
    evs = events(n)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await prepare(app, pilot)
        fed = anyio.Event()

        async def feed() -> None:
            for i in range(0, len(evs), BURST):
                for ev in evs[i:i + BURST]:
                    app._queue_event(ev)
                    if not batched:
                        app.flush()
                await anyio.sleep(0.005)
            fed.set()

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed)
            # key presses while events arrive: n toggles the input, escape leaves it
            while not fed.is_set():
                for key, effect in (("n", lambda: app.new_mode), ("escape", lambda: not app.new_mode)):
                    latencies.append(await press(app, key, effect))
                    if fed.is_set():
                        break
                await anyio.sleep(0.02)
        model = app.models[TID]
        while model.last_seq < evs[-1].seq:
            await pilot.pause(0.01)
        elapsed = time.perf_counter() - t0
        log_lines = app.query_one("#log").line_count
    return {"elapsed": elapsed, "rate": n / elapsed, "keys": latencies, "log_lines": log_lines}


async def memory(socket: str, lines: int) -> dict:
    """Traced memory of the app after ``lines`` and after twice as many log lines;
    then, with tracemalloc off (it slows everything down), key presses timed."""
    app = OctraApp(socket=socket, autostart=False)
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await prepare(app, pilot)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fed = 0
        for total in (lines, 2 * lines):
            start = app.models[TID].last_seq + 1
            evs = [Event(seq=start + i, ts=0.0, kind="agent.log", task_id=TID, agent_id=None,
                         data={"level": "info", "text": f"line {i:06d} of the bench log, about sixty characters long"})
                   for i in range(total - fed)]
            fed = total
            for i in range(0, len(evs), 5000):
                for ev in evs[i:i + 5000]:
                    app._queue_event(ev)
                app.flush()
                await pilot.pause(0)
            del evs
            await pilot.pause(0.2)
            gc.collect()
            out[total] = {"bytes": tracemalloc.get_traced_memory()[0] - base,
                          "log": app.query_one("#log").line_count, "model": len(app.models[TID].lines)}
        tracemalloc.stop()
        keys = []
        for _ in range(10):
            keys.append(await press(app, "n", lambda: app.new_mode))
            keys.append(await press(app, "escape", lambda: not app.new_mode))
            await pilot.pause(0.05)
        out["keys"] = keys
    out["text"] = sum(sys.getsizeof(f"        task │ line {i:06d} of the bench log, about sixty characters long")
                      for i in range(lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with running_daemon() as (socket, _env):
        print(f"{args.events} events in bursts of {BURST} every 5 ms, keys pressed meanwhile (120x40, headless)")
        print(f"{'':<22}{'events/s':>10}{'absorb s':>10}{'key p50 ms':>12}{'key p95 ms':>12}{'key max ms':>12}{'presses':>9}")
        for name, batched in (("batched (the app)", True), ("per-event (baseline)", False)):
            r = anyio.run(absorb, socket, args.events, batched)
            keys = r["keys"] or [0.0]
            print(f"{name:<22}{r['rate']:>10.0f}{r['elapsed']:>10.2f}{statistics.median(keys):>12.1f}"
                  f"{percentile(keys, 95):>12.1f}{max(keys):>12.1f}{len(keys):>9}")
        m = anyio.run(memory, socket, args.lines)
        print()
        print("memory of the log pane and the task model (tracemalloc), one ~60-character line per event")
        for total in (args.lines, 2 * args.lines):
            r = m[total]
            print(f"  after {total:>7} lines: {r['bytes'] / 2**20:7.1f} MiB  (the log pane holds {r['log']}, the model {r['model']})")
        print(f"  baseline: the text of {args.lines} lines alone: {m['text'] / 2**20:7.1f} MiB")
        print(f"  a key press with the log full: p50 {statistics.median(m['keys']):.1f} ms, max {max(m['keys']):.1f} ms")


if __name__ == "__main__":
    main()
