"""Snapshot and restore times against their floors, measured in the same run.

For git projects of 100, 2,000 and 20,000 files: Octra's snapshot (select,
stage, nix-store --add, GC root, verify, record, remove the folder) next to a
plain ``nix-store --add`` of an identical tree; Octra's restore next to a plain
``cp -r`` of the same store path.  Targets: snapshot <= 1.3x, restore <= 1.5x.

    .venv/bin/python bench/snapshot.py [--sizes 100,2000,20000] [--repeat 3]

Needs nix-store.  Everything it adds to the store is deleted again at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from octrad.projects import Projects  # noqa: E402
from octrad.snapshots.service import SnapshotService  # noqa: E402
from octrad.store import Database  # noqa: E402

GIT = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


def make_tree(folder: Path, n: int, seed: int) -> None:
    rnd = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        d = folder / f"pkg{i // 200}" / f"mod{(i // 20) % 10}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"file{i}.txt"
        p.write_bytes(f"seed {seed} file {i}\n".encode() + rnd.randbytes(rnd.randint(100, 3000)))
        if i % 100 == 0:
            p.chmod(0o755)
    env = {**os.environ, **GIT}
    subprocess.run(["git", "init", "-q", str(folder)], check=True, env=env)
    subprocess.run(["git", "-C", str(folder), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-c", "gc.auto=0", "-C", str(folder), "commit", "-qm", "bench"], check=True, env=env)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


async def bench(sizes: list[int], repeat: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="octra-bench-", dir=os.environ.get("TMPDIR", "/tmp")))
    added: list[str] = []
    db = await Database(root / "octra.db").open()
    try:
        projects = Projects(db, root / "projects")
        print(f"{'files':>6} | {'snapshot':>9} {'nix add':>9} {'ratio':>6} | {'restore':>9} {'cp -r':>9} {'ratio':>6}")
        print("-" * 66)
        for n in sizes:
            snap, base_add, rest, base_cp = [], [], [], []
            for r in range(repeat):
                p = await projects.create(f"bench-{n}-{r}")
                folder = Path(p.path)
                make_tree(folder, n, seed=n * 100 + r)
                plain = root / f"plain-{n}-{r}"
                subprocess.run(["cp", "-a", str(folder), str(plain)], check=True)

                def plain_add():
                    out = subprocess.run(["nix-store", "--add", str(plain)], capture_output=True, check=True)
                    added.append(out.stdout.decode().strip())

                async def ours_snapshot():
                    # the task group ends once the background removal of the folder is done,
                    # so that removal does not slow the next measurement; it is not timed
                    async with anyio.create_task_group() as tg:
                        svc = SnapshotService(db, gcroots_dir=root / "gcroots", work_dir=root / "tmp", spawn=tg.start_soon)
                        t0 = time.perf_counter()
                        info = await svc.snapshot(p.id, f"t{n}-{r}", folder)
                        snap.append(time.perf_counter() - t0)
                    added.append(info.store_path)
                    return info

                # alternate which goes first, so neither always meets a warmer cache
                if r % 2 == 0:
                    base_add.append(timed(plain_add)[0])
                    info = await ours_snapshot()
                else:
                    info = await ours_snapshot()
                    base_add.append(timed(plain_add)[0])
                svc = SnapshotService(db, gcroots_dir=root / "gcroots", work_dir=root / "tmp")
                dest_cp, dest = root / f"cp-{n}-{r}", root / f"restored-{n}-{r}"

                def plain_cp():
                    subprocess.run(["cp", "-r", info.store_path, str(dest_cp)], check=True)

                async def ours_restore():
                    t0 = time.perf_counter()
                    await svc.restore(f"t{n}-{r}", str(dest))
                    rest.append(time.perf_counter() - t0)

                if r % 2 == 0:
                    base_cp.append(timed(plain_cp)[0])
                    await ours_restore()
                else:
                    await ours_restore()
                    base_cp.append(timed(plain_cp)[0])
                for d in (plain, dest, dest_cp):
                    subprocess.run(["chmod", "-R", "u+w", str(d)], check=False)
                    shutil.rmtree(d, ignore_errors=True)
            s, b, rs, c = (statistics.median(x) for x in (snap, base_add, rest, base_cp))
            print(f"{n:>6} | {s:>8.3f}s {b:>8.3f}s {s / b:>5.2f}x | {rs:>8.3f}s {c:>8.3f}s {rs / c:>5.2f}x")
        print(f"(median of {repeat}; targets: snapshot <= 1.30x, restore <= 1.50x)")
    finally:
        await db.close()
        shutil.rmtree(root / "gcroots", ignore_errors=True)
        for path in added:
            subprocess.run(["nix-store", "--delete", path], capture_output=True)
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,2000,20000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("nix-store") is None:
        sys.exit("bench/snapshot.py needs nix-store")
    os.environ.setdefault("NIX_CONFIG", "substituters =")
    anyio.run(bench, [int(s) for s in args.sizes.split(",")], args.repeat)


if __name__ == "__main__":
    main()
