"""What the sandbox costs per command: ``true`` through the real executor with
no sandbox, in bubblewrap (no network), and in bubblewrap with the fenced
user-mode network a registry command gets (pasta, and slirp4netns when
installed), side by side.

    .venv/bin/python bench/sandbox.py [--runs 30]

Prints median, p90 and min wall time per command in milliseconds, and the
extra cost over no sandbox.  The executor's own work (the project listing
before and after, the events) is in every column alike.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._daemon import percentile  # noqa: E402
from octra_protocol.methods.settings import SettingsResult  # noqa: E402
from octrad.scaffold import netfence, sandbox  # noqa: E402
from octrad.scaffold.executor import Executor  # noqa: E402


async def measure(projects: Path, mode: str, network: bool, runs: int) -> list[float]:
    ex = Executor(SettingsResult(sandbox=mode), projects_dir=projects)
    times = []
    for _ in range(runs + 2):
        t0 = time.perf_counter()
        res = await ex.run(["true"], projects / "demo", network=network)
        times.append((time.perf_counter() - t0) * 1000)
        if not res.ok:
            raise SystemExit(f"{mode} network={network}: {res.output_tail} {res.notes}")
        if network and mode == "bwrap" and res.network == "none":
            raise SystemExit(f"no fenced network: {res.notes}")
    return times[2:]  # the first runs warm the caches (probe, page cache)


async def main(runs: int) -> None:
    ok, why = sandbox.probe()
    if not ok:
        raise SystemExit(f"bubblewrap cannot run here: {why}")
    root = Path(tempfile.mkdtemp(prefix="octra-bench-sandbox-"))
    (root / "projects" / "demo").mkdir(parents=True)
    try:
        cases = [("none", "none", False), ("bwrap", "bwrap", False)]
        tools = [t for t in ("pasta", "slirp4netns") if shutil.which(t)]
        results = {}
        for label, mode, net in cases:
            results[label] = await measure(root / "projects", mode, net, runs)
        for tool in tools:
            # each tool in turn (the daemon picks pasta first)
            netfence.network_tool.cache_clear()
            real = netfence.network_tool
            netfence.network_tool = lambda tool=tool: (tool, shutil.which(tool))
            try:
                results[f"bwrap+{tool}"] = await measure(root / "projects", "bwrap", True, runs)
            finally:
                netfence.network_tool = real
        base = statistics.median(results["none"])
        print(f"`true` through the executor, {runs} runs each (ms)")
        print(f"{'':<18}{'median':>9}{'p90':>9}{'min':>9}{'extra':>9}")
        for label, t in results.items():
            med = statistics.median(t)
            print(f"{label:<18}{med:9.1f}{percentile(t, 90):9.1f}{min(t):9.1f}{med - base:+9.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    anyio.run(main, ap.parse_args().runs)
