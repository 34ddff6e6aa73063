"""Skill search and guide matching: how long they take per call, next to a
baseline measured in the same run.

Every worker prompt triggers a search, so it must stay far below the cost of
the LLM call it feeds.  The baseline is the straightforward implementation of
the same relevance rule: a word-boundary regex per keyword, compiled (cached
by ``re``) and run against the raw text on every call.  Both must agree on the
ranking; the script checks that before timing.

Run: ``.venv/bin/python bench/skills.py``
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from octrad.knowledge.guides import GuideRegistry  # noqa: E402
from octrad.knowledge.skills import SkillWarehouse  # noqa: E402

QUERIES = [
    ("backend api worker", "python fastapi postgres", "add cursor pagination to the list users endpoint"),
    ("frontend developer", "react typescript vite", "build the signup form with validation and error states"),
    ("devops engineer", "docker nix github actions", "containerize the service, add health checks and CI"),
    ("vpn engineer", "wireguard nixos", "set up a tunnel between two sites with split dns"),
    ("presentation writer", "markdown marp", "slides for the investor pitch with one chart"),
]
DESCRIPTIONS = [
    "Build a REST API in Go with Postgres and JWT auth",
    "A Laravel blog with comments and an admin area",
    "A command line tool in Rust that renames photos by date",
    "React dashboard in TypeScript showing sales",
    "A Spring Boot microservice for invoices",
]


def baseline_score(frag, role: str, tech: str, task: str) -> int:
    def has(word: str, text: str) -> bool:
        return re.search(r"(?<![a-z0-9+#])" + re.escape(word) + r"(?:s|es)?(?![a-z0-9+#])", text) is not None

    def norm(t: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9+#]+", " ", t.lower()).split())

    r, s, t = norm(role), norm(tech), norm(task)
    total = 0
    for kw in frag.keywords:
        k = norm(kw)
        total += 5 * has(k, r) + 2 * has(k, t)
    total += 3 * sum(has(norm(x), s) for x in frag.tech)
    total += 4 * has(norm(frag.slug), r) + 3 * has(norm(frag.area), r)
    return total * frag.weight


def baseline_search(frags, role, tech, task, k=5):
    scored = [(f, baseline_score(f, role, tech, task)) for f in frags]
    scored = [x for x in scored if x[1] > 0]
    scored.sort(key=lambda x: (-x[1], -x[0].weight, x[0].slug))
    return scored[:k]


def per_call_us(fn, calls: int, rounds: int = 7) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    t0 = time.perf_counter()
    wh = SkillWarehouse.load()
    t1 = time.perf_counter()
    reg = GuideRegistry.load()
    t2 = time.perf_counter()
    frags = wh.catalog()

    for q in QUERIES:
        ours = [(s.fragment.slug, s.score) for s in wh.search(*q)]
        base = [(f.slug, sc) for f, sc in baseline_search(frags, *q)]
        assert ours == base, f"rankings differ for {q}: {ours} vs {base}"

    n = 200
    search_ours = per_call_us(lambda: [wh.search(*q) for q in QUERIES], n) / len(QUERIES)
    search_base = per_call_us(lambda: [baseline_search(frags, *q) for q in QUERIES], n // 4) / len(QUERIES)
    slugs = [s.fragment.slug for s in wh.search(*QUERIES[0])]
    select_us = per_call_us(lambda: wh.select(slugs), n)
    match_us = per_call_us(lambda: [reg.match(d) for d in DESCRIPTIONS], n) / len(DESCRIPTIONS)

    print(f"fragments: {len(wh)}, guides: {len(reg)}")
    print(f"load skills (once, at start)      {1e3 * (t1 - t0):8.1f} ms")
    print(f"load guides (once, at start)      {1e3 * (t2 - t1):8.1f} ms")
    print(f"{'per call':34} {'ours':>9} {'baseline':>10} {'speed-up':>9}")
    print(f"{'skills.search (k=5)':34} {search_ours:7.1f}us {search_base:8.1f}us {search_base / search_ours:8.1f}x")
    print(f"{'skills.select (5 slugs) + text':34} {select_us:7.1f}us {'-':>10} {'':>9}")
    print(f"{'guides.match (k=3)':34} {match_us:7.1f}us {'-':>10} {'':>9}")


if __name__ == "__main__":
    main()
