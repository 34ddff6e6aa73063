"""Pipeline overhead: a whole task against a fake provider that answers every
call after a fixed delay, against the ideal (the AI steps on the critical path
times the delay, or the calls divided by the parallel limit, whichever is
longer), plus the time the verification stage's checks take (as Octra measured
them).  The ratio is the figure (target: at most 1.10 for the AI phase).

    .venv/bin/python bench/pipeline.py [--delay 0.1]

The AI phase runs from task.create to the Boss's last verdict; the tail
(final commit, Nix snapshot) is printed on its own.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._daemon import running_daemon  # noqa: E402
from tests.fakes.ai_script import Script, files, plan, staff  # noqa: E402
from tests.fakes.providers import FakeProvider  # noqa: E402


def script(managers: int, workers: int, delay: float) -> Script:
    s = Script(
        plan=lambda a, n: plan(*[(f"team{i}", f"part {i}") for i in range(managers)],
                               checks=[{"name": "test", "command": "test -f team0/team0-w0.txt"}]),
        staff=lambda a, n: staff(*[(f"{a.manager}-w{j}", "a file", [f"{a.manager}/w{j}.txt"]) for j in range(workers)]),
        work=lambda a, n: files((f"{a.manager}/{a.worker}.txt", f"v{2 if a.refine else 1}"), done=a.refine),
        review=lambda a, n: {"approved": True},
        validate=lambda a, n: {"approved": True},
    )
    s.delay = delay
    return s


async def one(sock: str, fake: FakeProvider, managers: int, workers: int, limit: int, delay: float) -> dict:
    from octra_protocol.client import connect

    fake.reset()
    fake.responder = script(managers, workers, delay)
    async with connect(sock, client="bench") as c:
        await c.call("providers.set", {"name": "fake", "kind": "openai", "base_url": fake.base_url("openai"),
                                       "model": "m", "api_key": "sk-bench-key-000000"})
        await c.call("settings.set", {"max_parallel_llm_calls": limit})
        t0 = time.perf_counter()
        tid = (await c.call("task.create", {"description": "bench", "provider": "fake", "meta": {"max_rounds": 2}}))["task_id"]
        ai_end = None
        async with c.subscribe(task_id=tid, since_seq=0) as sub:
            async for ev in sub:
                if ev.kind == "review.verdict" and ev.data.get("by") == "boss":
                    ai_end = time.perf_counter()
                if ev.kind == "task.status" and ev.data.get("status") in ("done", "failed"):
                    break
        end = time.perf_counter()
        task = await c.call("task.get", {"task_id": tid})
    assert task["status"] == "done" and task["verified"] is True, (task["error"], task["checks"])
    calls = task["usage"]["calls"]
    critical = 6  # plan, staff, round 1, round 2, review, validate (the checks run between round 2 and review)
    waves = critical if limit >= managers * workers else max(critical, math.ceil(calls / limit))
    checks = sum(c["duration_s"] for c in task["checks"])
    return {"calls": calls, "ai": ai_end - t0, "tail": end - ai_end, "ideal": waves * delay + checks, "checks": checks}


async def raw_waves(fake: FakeProvider, waves: list[int], delay: float) -> float:
    """The raw operation: the same waves of concurrent requests sent straight to the
    fake with httpx (each wave waits for the previous), no pipeline at all."""
    import httpx

    from tests.fakes.providers import Reply

    fake.reset()
    fake.responder = lambda req: Reply.json({"approved": True}, delay=delay)
    url = fake.base_url("openai") + "/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient() as client:

        async def call() -> None:
            await client.post(url, json=body)

        t0 = time.perf_counter()
        for n in waves:
            async with anyio.create_task_group() as tg:
                for _ in range(n):
                    tg.start_soon(call)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.1)
    args = ap.parse_args()
    with FakeProvider() as fake, running_daemon() as (sock, _env):
        rows = [
            ("3 managers x 3 workers", *([3, 3, 16])),
            ("6 managers x 5 workers (the most a plan may have)", *([6, 5, 8])),
        ]
        print(f"{'plan':<50}{'limit':>6}{'calls':>7}{'checks s':>9}{'ideal s':>9}{'raw s':>7}{'AI phase s':>12}"
              f"{'/ideal':>8}{'/raw':>7}{'tail s':>8}")
        for label, m, w, limit in rows:
            r = anyio.run(one, sock, fake, m, w, limit, args.delay)
            # the critical path as waves of concurrent calls, within the parallel limit
            shape = [1, m, m * w, m * w, m, 1]
            waves = [min(n, limit) for n in shape for _ in range(math.ceil(n / limit))]
            raw = anyio.run(raw_waves, fake, waves, args.delay) + r["checks"]
            print(f"{label:<50}{limit:>6}{r['calls']:>7}{r['checks']:>9.2f}{r['ideal']:>9.2f}{raw:>7.2f}{r['ai']:>12.2f}"
                  f"{r['ai'] / r['ideal']:>8.2f}{r['ai'] / raw:>7.2f}{r['tail']:>8.2f}")
        print("ideal: critical-path steps x delay + the checks' run time; raw: the same waves of calls sent straight "
              "to the fake (its own HTTP cost included) + the checks' run time; tail: final commit and Nix snapshot")


if __name__ == "__main__":
    main()
