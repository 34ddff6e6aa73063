"""The repository map on a real, sizeable repository: build time cold (every
file parsed) and cached (same contents), ranking and rendering time, and the
map's size against its budget; side by side with a baseline measured in the
same run: reading the same files (no parsing), which is the floor of any map.

    .venv/bin/python bench/repomap.py [--package textual] [--budget 2000] [--repeat 3]

The repository is the installed source of a PyPI package from this venv (by
default textual), copied into a temporary git repository, so the figures are
for code nobody wrote for the benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from octrad.knowledge.repomap import LANGUAGES, RepoMap, approx_tokens, rank, render  # noqa: E402
from octrad.pipeline.existing import map_text  # noqa: E402

QUERY = "the DataTable cursor jumps when sort is called; fix move_cursor and add a test"


def timed(fn, repeat: int) -> tuple[float, object]:
    best, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="textual")
    ap.add_argument("--budget", type=int, default=2000, help="map budget in tokens")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = Path(importlib.import_module(args.package).__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / args.package
        shutil.copytree(src, root, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        paths = subprocess.run(["git", "-C", str(root), "ls-files"], check=True, capture_output=True,
                               text=True).stdout.split()
        sources = [p for p in paths if Path(p).suffix in LANGUAGES]
        size = sum((root / p).stat().st_size for p in sources)

        read_s, _ = timed(lambda: [(root / p).read_bytes() for p in sources], args.repeat)
        cold_s, outlines = timed(lambda: RepoMap().outlines(root, sources), args.repeat)
        warm = RepoMap()
        warm.outlines(root, sources)
        warm_s, _ = timed(lambda: warm.outlines(root, sources), args.repeat)
        commit_s, _ = timed(lambda: warm.outlines(root, sources, commit="HEAD"), args.repeat)
        rank_s, text = timed(lambda: render(rank(outlines, QUERY), args.budget), args.repeat)
        # what a run's prompts get: the map and the names of the files it does not outline, one budget
        prompt_s, prompt_map = timed(lambda: map_text(root, paths, QUERY, args.budget), args.repeat)

    defs = sum(len(o.definitions) for o in outlines)
    whole = render(rank(outlines, QUERY), 10**9)
    print(f"repository: {args.package} {len(sources)} source files, {size / 1e6:.1f} MB, {defs} definitions")
    print(f"{'what':<38}{'median s':>10}{'vs read':>10}")
    for what, s in (("baseline: read every file", read_s), ("map, cold (parse every file)", cold_s),
                    ("map, cached by content", warm_s), ("map, cached by commit", commit_s),
                    ("rank + render for a task", rank_s), ("prompt map (cached parse + names)", prompt_s)):
        print(f"{what:<38}{s:>10.3f}{s / read_s:>9.1f}x")
    print(f"map size: {approx_tokens(text)} tokens for a budget of {args.budget} "
          f"(the whole outline would be {approx_tokens(whole)} tokens; the files themselves about "
          f"{size // 4} tokens)")
    print(f"prompt map (octrad.pipeline.existing.map_text, all {len(paths)} files): "
          f"{approx_tokens(prompt_map)} tokens for a budget of {args.budget}")
    print("top of the map:")
    print("\n".join("  " + line for line in text.splitlines()[:6]))


if __name__ == "__main__":
    main()
