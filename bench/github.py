"""What Octra's GitHub layer costs on top of the work itself, against the fake
GitHub on loopback, each figure beside a baseline measured in the same run:

- API: ``GitHubClient.issue`` + ``comments`` (headers, error mapping, Link
  pagination) vs a bare httpx client sending the same two GETs;
- git: ``gitops.run_git`` clone of a private repository with the token through
  the one-command credential helper (temp file, child_env, redaction) vs a
  plain ``git clone`` with the credentials in the URL (what Octra must not do).

    .venv/bin/python bench/github.py [--calls 300] [--clones 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import httpx  # noqa: E402

from octrad.github import gitops  # noqa: E402
from octrad.github.client import GitHubClient  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402


def ms(values: list[float]) -> str:
    values = sorted(values)
    return f"p50 {statistics.median(values) * 1000:7.2f} ms  p90 {values[int(len(values) * 0.9) - 1] * 1000:7.2f} ms"


async def bench_api(gh: FakeGitHub, calls: int) -> None:
    ours, bare = [], []
    async with GitHubClient(gh.url, gh.token) as c, httpx.AsyncClient(
        base_url=gh.url, headers={"Authorization": f"Bearer {gh.token}", "Accept": "application/vnd.github+json"}
    ) as h:
        for _ in range(10):  # warm both connections
            await c.issue("acme/widget", 3)
            await h.get("/repos/acme/widget/issues/3")
        for i in range(calls):
            pair = [(ours, None), (bare, None)] if i % 2 else [(bare, None), (ours, None)]
            for sink, _ in pair:
                t0 = time.perf_counter()
                if sink is ours:
                    await c.issue("acme/widget", 3)
                    await c.comments("acme/widget", 3)
                else:
                    (await h.get("/repos/acme/widget/issues/3")).json()
                    (await h.get("/repos/acme/widget/issues/3/comments", params={"per_page": 100})).json()
                sink.append(time.perf_counter() - t0)
    print(f"API issue+comments  octra client: {ms(ours)}")
    print(f"                    bare httpx:   {ms(bare)}")
    print(f"                    added at p50: {(statistics.median(ours) - statistics.median(bare)) * 1000:.2f} ms")


async def bench_git(gh: FakeGitHub, clones: int, work: Path) -> None:
    clone_url = gh.repo_json(gh.repos["acme/widget"], None)["clone_url"]
    in_url = clone_url.replace("http://", f"http://x-access-token:{gh.token}@")
    ours, plain = [], []
    for i in range(clones):
        for sink in ([ours, plain] if i % 2 else [plain, ours]):
            dest = work / f"c{i}-{len(sink)}-{id(sink)}"
            t0 = time.perf_counter()
            if sink is ours:
                await gitops.run_git(["clone", "-q", clone_url, str(dest)], cwd=None, token=gh.token,
                                     tmp_root=work / "tmp", what="clone")
            else:
                subprocess.run(["git", "clone", "-q", in_url, str(dest)], check=True, capture_output=True)
            sink.append(time.perf_counter() - t0)
            shutil.rmtree(dest)
    print(f"git clone (private) credential helper: {ms(ours)}")
    print(f"                    token in the URL:  {ms(plain)}")
    print(f"                    added at p50:      {(statistics.median(ours) - statistics.median(plain)) * 1000:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--clones", type=int, default=15)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gh-"))
    try:
        with FakeGitHub(work / "gh") as gh:
            files = {f"src/f{i}.txt": f"line {i}\n" * 50 for i in range(40)}
            gh.add_repo("acme/widget", files, private=True, pull_users={"octra-bot"})
            gh.add_issue("acme/widget", 3, "Title", "Body " * 100)
            for i in range(20):
                gh.add_comment("acme/widget", 3, "alice", f"comment {i} " * 20)
            anyio.run(bench_api, gh, args.calls)
            anyio.run(bench_git, gh, args.clones, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
