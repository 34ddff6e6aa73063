"""GetForPrompt latency for a project with 10,000 context entries, with a warm
and a cold cache, side by side with a baseline measured in the same run: the
same visible entries fetched with one indexed SQL query per call and rendered
the same way, no cache.

    .venv/bin/python bench/context.py [--entries 10000]

Two projects: "cleaned" got its entries through ContextService.add, so the cap
and sawtooth left only rules, important entries and the newest ordinary ones
live (the add throughput is printed too); "all live" has every entry live (as
if all were important), the worst case for a cold load.  Each GetForPrompt
result is checked against the baseline's, so the figures compare equal work.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from octrad.knowledge.context import _COLUMNS, ContextService, _entry, render  # noqa: E402
from octrad.store import Database  # noqa: E402

TEAMS = 10
AGENTS = 100


def who(i: int) -> tuple[str, str]:
    """The i-th asking agent and its team."""
    return f"w{i % AGENTS}", f"m{i % AGENTS % TEAMS}"


def entry_args(i: int, rng: random.Random) -> tuple[str, str, str, dict]:
    agent, team = who(i)
    text = f"entry {i}: " + " ".join(rng.choice(("api", "schema", "uses", "port", "table", "returns", "JSON", "id")) for _ in range(rng.randint(5, 30)))
    kind = i % 20
    if kind == 0:
        return "global", "rule", text, {}
    if kind in (1, 2):
        return "global", "decision", text, {"important": kind == 1}
    if kind < 10:
        return "team", "interface", text, {"target": team, "important": kind == 3}
    return "individual", "note", text, {"target": agent, "important": kind == 10}


async def seed_cleaned(svc: ContextService, project: str, n: int) -> float:
    rng = random.Random(1)
    t0 = time.perf_counter()
    for i in range(n):
        scope, type_, text, kw = entry_args(i, rng)
        await svc.add(project, scope, type_, text, source_agent=who(i)[0], **kw)
    return time.perf_counter() - t0


async def seed_all_live(db: Database, project: str, n: int) -> None:
    rng = random.Random(2)
    rows = []
    for i in range(n):
        scope, type_, text, kw = entry_args(i, rng)
        rows.append((project, scope, type_, who(i)[0], kw.get("target"), text, 1, 1_700_000_000.0 + i))
    await db.executemany(
        "INSERT INTO context_entries(project_id, scope, type, source_agent, target, content, important, forgotten,"
        " created_at) VALUES (?,?,?,?,?,?,?,0,?)",
        rows,
    )


async def baseline(db: Database, project: str, agent: str, team: str) -> str:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM context_entries WHERE project_id = ? AND forgotten = 0"
        " AND (scope = 'global' OR (scope = 'team' AND target = ?) OR (scope = 'individual' AND target = ?))"
        " ORDER BY created_at, id",
        (project, team, agent),
    )
    return render([_entry(r) for r in rows])


async def timed(fn, calls: int) -> list[float]:
    out = []
    for i in range(calls):
        t0 = time.perf_counter()
        await fn(i)
        out.append(time.perf_counter() - t0)
    return out


def fmt(samples: list[float]) -> str:
    samples = sorted(samples)
    med = statistics.median(samples) * 1e6
    p95 = samples[int(len(samples) * 0.95) - 1] * 1e6
    return f"{med:>10.1f}  {p95:>10.1f}  {len(samples) / sum(samples):>10.0f}"


async def measure(db: Database, svc: ContextService, project: str, calls: int, cold_calls: int) -> list[tuple[str, list[float]]]:
    # every path must produce the same block
    for i in range(AGENTS):
        agent, team = who(i)
        assert await svc.for_prompt(project, agent, team) == await baseline(db, project, agent, team), "results differ"

    async def base(i):
        await baseline(db, project, *who(i))

    async def cold(i):
        svc.invalidate(project)
        await svc.for_prompt(project, *who(i))

    async def warm_same(i):
        await svc.for_prompt(project, "w1", "m1")

    async def warm_many(i):
        # a new agent each call: the entries are cached, the block is rendered
        await svc.for_prompt(project, f"x{i}", f"m{i % TEAMS}")

    await svc.for_prompt(project, "w1", "m1")
    return [
        ("baseline: SQL per call", await timed(base, cold_calls)),
        ("cold cache (full load)", await timed(cold, cold_calls)),
        ("warm, new agent each", await timed(warm_many, calls)),
        ("warm, same agent", await timed(warm_same, calls)),
    ]


async def run(folder: Path, n: int, calls: int) -> None:
    db = await Database(folder / "bench.db").open()
    svc = ContextService(db)
    try:
        add_s = await seed_cleaned(svc, "cleaned", n)
        await seed_all_live(db, "all-live", n)
        for project in ("cleaned", "all-live"):
            total = await db.scalar("SELECT COUNT(*) FROM context_entries WHERE project_id = ?", (project,))
            live = await db.scalar("SELECT COUNT(*) FROM context_entries WHERE project_id = ? AND forgotten = 0", (project,))
            visible = len((await baseline(db, project, "w1", "m1")).splitlines())
            print(f"\nproject {project!r}: {total} entries, {live} live, block of ~{visible} lines for w1/m1")
            print(f"{'GetForPrompt':26}{'median us':>10}  {'p95 us':>10}  {'calls/s':>10}")
            cold_calls = 300 if live < 2000 else 40
            for name, samples in await measure(db, svc, project, calls, cold_calls):
                print(f"{name:26}{fmt(samples)}")
        print(f"\nContextService.add with cleanup: {n / add_s:.0f} adds/s ({add_s:.2f} s for {n})")
    finally:
        await db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="octb-ctx-") as tmp:
        anyio.run(run, Path(tmp), args.entries, args.calls)


if __name__ == "__main__":
    main()
