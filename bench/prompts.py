"""Prompt tokens that are a repeated prefix: what a provider's prompt cache can serve.

A scripted task (3 managers x 2 workers, two rounds) runs against the fake
provider; for every request, the longest prefix of its prompt (the messages in
order, as sent) that an earlier request of the task already sent is counted as
cacheable.  Printed per question kind and in total, in approximate tokens
(4 characters each).

    .venv/bin/python bench/prompts.py [--managers 3] [--workers 2] [--baseline REV]

``--baseline REV`` runs this same script first on a throwaway git worktree of
``REV`` (e.g. 512579c, the last layout before the pipeline's stages, where the
shared parts did not come first), so both tables print in one run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._daemon import running_daemon  # noqa: E402
from bench.pipeline import script  # noqa: E402
from tests.fakes.ai_script import classify  # noqa: E402
from tests.fakes.providers import FakeProvider  # noqa: E402


def _prompt(req) -> str:
    return "".join(f"<{m['role']}>{m['content']}" for m in req.messages)


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


async def run(sock: str, fake: FakeProvider, managers: int, workers: int) -> list:
    from octra_protocol.client import connect

    fake.reset()
    fake.responder = script(managers, workers, 0.0)
    async with connect(sock, client="bench") as c:
        await c.call("providers.set", {"name": "fake", "kind": "openai", "base_url": fake.base_url("openai"),
                                       "model": "m", "api_key": "sk-bench-key-000000"})
        tid = (await c.call("task.create", {"description": "bench: a small tool in three parts", "provider": "fake",
                                            "meta": {"max_rounds": 2}}))["task_id"]
        while (await c.call("task.get", {"task_id": tid}))["status"] not in ("done", "failed"):
            await anyio.sleep(0.1)
    return list(fake.requests)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--managers", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", metavar="REV")
    args = ap.parse_args()
    if args.baseline:
        root = Path(__file__).resolve().parent.parent
        tree = Path(tempfile.mkdtemp(prefix="octra-base-")) / "tree"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "-q", "--detach", str(tree), args.baseline], check=True)
        try:
            shutil.copy(__file__, tree / "bench" / "prompts.py")
            print(f"baseline {args.baseline}:")
            subprocess.run([sys.executable, str(tree / "bench" / "prompts.py"), "--managers", str(args.managers),
                            "--workers", str(args.workers)], check=True)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=False)
            shutil.rmtree(tree.parent, ignore_errors=True)
        print("\nthis tree:")
    with FakeProvider() as fake, running_daemon() as (sock, _env):
        requests = anyio.run(run, sock, fake, args.managers, args.workers)
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    seen: list[str] = []
    for req in requests:
        text = _prompt(req)
        shared = max((_common(text, s) for s in seen), default=0)
        seen.append(text)
        row = total[classify(req).question]
        row[0] += 1
        row[1] += len(text) // 4
        row[2] += shared // 4
    print(f"{'question':<10} {'calls':>5} {'prompt tok':>11} {'repeated prefix':>16} {'share':>6}")
    for name, (calls, tokens, shared) in [*sorted(total.items()), ("all", [sum(x) for x in zip(*total.values())])]:
        print(f"{name:<10} {calls:>5} {tokens:>11} {shared:>16} {shared / max(tokens, 1):>6.0%}")


if __name__ == "__main__":
    main()
