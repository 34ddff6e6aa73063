"""Snapshots with the real nix-store: a project goes into the store, its working
folder goes, `nix-store --gc` runs, and the restore still reproduces every
file, mode and commit; forged records are refused; no Nix, no loss."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from octra_protocol.errors import RpcError
from octrad import statedirs
from octrad.pipeline import gitrepo
from octrad.projects import Projects
from octrad.snapshots import nix
from octrad.snapshots.service import SnapshotService, snapshot_name
from octrad.store import Database
from tests.conftest import DaemonProcess



def _store_usable() -> str:
    """Why the real nix-store cannot be used here ("" when it can)."""
    if shutil.which("nix-store") is None:
        return "nix-store is not installed"
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        Path(d, "probe").write_text("octra test probe\n")
        proc = subprocess.run(["nix-store", "--add", os.path.join(d, "probe")], capture_output=True, text=True)
    return "" if proc.returncode == 0 else f"nix-store --add does not work here: {proc.stderr.strip()[-200:]}"


_WHY = _store_usable()
pytestmark = pytest.mark.skipif(bool(_WHY), reason=_WHY)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Octra Test", "GIT_AUTHOR_EMAIL": "test@octra.invalid",
    "GIT_COMMITTER_NAME": "Octra Test", "GIT_COMMITTER_EMAIL": "test@octra.invalid",
}


@pytest.fixture(autouse=True)
def offline_nix(monkeypatch, tmp_path):
    monkeypatch.setenv("NIX_CONFIG", "substituters =")
    monkeypatch.setattr(statedirs, "_data_dir", tmp_path)


def git(folder, *args) -> str:
    """git on a project folder's repository (in the data folder), or on a restored copy's own .git."""
    gd = statedirs.git_dir(folder)
    where = ["--git-dir", str(gd), "--work-tree", str(folder)] if gd.exists() else ["-C", str(folder)]
    return subprocess.run(
        ["git", *where, *args], cwd=folder, env={**os.environ, **GIT_ENV}, check=True, capture_output=True, text=True
    ).stdout


class Env:
    def __init__(self, root: Path, db: Database):
        self.root = root
        self.db = db
        self.projects = Projects(db, root / "projects")
        self.gcroots = root / "gcroots"
        self.svc = SnapshotService(db, gcroots_dir=self.gcroots, work_dir=root / "tmp")

    async def project(self, name: str):
        p = await self.projects.create(name)
        Path(p.path).mkdir(parents=True)
        return p


@pytest.fixture
async def env(tmp_path):
    db = await Database(tmp_path / "octra.db").open()
    try:
        yield Env(tmp_path, db)
    finally:
        await db.close()


def make_repo(folder: Path, marker: str = "v1") -> None:
    """A small git project: two commits, an executable script, a symlink, an
    ignored build folder and an untracked file."""
    (folder / "src").mkdir(exist_ok=True)
    (folder / "README.md").write_text(f"# demo {marker}\n")
    (folder / "src" / "main.rs").write_text('fn main() { println!("hi"); }\n')
    (folder / ".gitignore").write_text("target/\n")
    gitrepo.init(folder)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\necho run\n")
    script.chmod(0o755)
    (folder / "data.bin").write_bytes(bytes(range(256)) * 40)
    os.symlink("README.md", folder / "link-to-readme")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "second: script, data, link")
    (folder / "target").mkdir()
    (folder / "target" / "huge.o").write_bytes(b"\0" * 100_000)
    (folder / "notes.txt").write_text("untracked but not ignored\n")


def add_ignored_corner_cases(folder: Path) -> None:
    """A tracked file inside an ignored folder, and an ignored file next to kept ones."""
    (folder / "target" / "keep.txt").write_text("force-added\n")
    git(folder, "add", "-f", "target/keep.txt")
    git(folder, "commit", "-qm", "keep one file of target/")
    with open(folder / ".gitignore", "a") as f:
        f.write("*.log\n")
    (folder / "src" / "debug.log").write_text("ignored\n")


def tree_of(folder: Path, skip_git: bool = True) -> dict[str, tuple]:
    """Every file and symlink outside .git: (kind, content or target, executable)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        if skip_git and (rel_dir == ".git" or rel_dir.startswith(".git/")):
            continue
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p), None)
            else:
                out[rel] = ("file", p.read_bytes(), bool(p.stat().st_mode & stat.S_IXUSR))
    return out


async def test_snapshot_gc_restore_roundtrip(env, tmp_path):
    p = await env.project("demo")
    folder = Path(p.path)
    make_repo(folder)
    add_ignored_corner_cases(folder)
    expected = {k: v for k, v in tree_of(folder).items() if k not in ("target/huge.o", "src/debug.log")}
    assert "target/keep.txt" in expected and "notes.txt" in expected
    log_before = git(folder, "log", "--format=%H %an %s")
    status_before = git(folder, "status", "--porcelain")

    info = await env.svc.snapshot(p.id, "t1", folder)
    assert info.store_path.startswith(nix.store_dir() + "/")
    assert info.store_path.endswith("-" + snapshot_name("demo", "t1"))
    assert not folder.exists(), "the working folder goes once the snapshot is verified"
    assert os.readlink(env.gcroots / snapshot_name("demo", "t1")) == info.store_path
    assert not os.path.exists(os.path.join(info.store_path, "target", "huge.o")), "ignored files stay out"
    assert not os.path.exists(os.path.join(info.store_path, "src", "debug.log"))
    assert os.path.isfile(os.path.join(info.store_path, "notes.txt"))
    rows = await env.svc.list_for_project(p.id)
    assert [(r["task_id"], r["store_path"], r["files"], r["bytes"]) for r in rows] == [("t1", info.store_path, info.files, info.bytes)]
    assert (await env.svc.latest_for_project(p.id))["store_path"] == info.store_path

    gc = subprocess.run(["nix-store", "--gc"], capture_output=True, text=True)
    assert gc.returncode == 0, gc.stderr
    assert os.path.isdir(info.store_path), "the GC root keeps the snapshot alive"

    dest = tmp_path / "restored"
    assert await env.svc.restore("t1", str(dest)) == str(dest)
    assert tree_of(dest) == expected
    assert os.access(dest / "run.sh", os.X_OK) and os.access(dest / "run.sh", os.W_OK)
    assert all(os.access(dest / rel, os.W_OK) for rel, v in expected.items() if v[0] == "file")
    assert git(dest, "log", "--format=%H %an %s") == log_before
    assert git(dest, "status", "--porcelain") == status_before
    git(dest, "commit", "-q", "--allow-empty", "-m", "the restored repository works")

    # the default destination is the project's own folder
    assert await env.svc.restore("t1") == p.path
    assert tree_of(folder) == expected
    with pytest.raises(RpcError) as err:
        await env.svc.restore("t1")
    assert err.value.kind == "conflict" and p.path in err.value.message


async def test_identical_content_gives_the_same_store_path(env, tmp_path):
    p = await env.project("same")
    folder = Path(p.path)
    make_repo(folder)
    first = await env.svc.snapshot(p.id, "t1", folder)
    await env.svc.restore("t1")
    git(folder, "status")  # rewrites the index with fresh timestamps
    second = await env.svc.snapshot(p.id, "t1", folder)
    assert second.store_path == first.store_path
    assert (second.files, second.bytes) == (first.files, first.bytes)


async def test_forged_records_are_refused(env, tmp_path):
    p = await env.project("forge")
    make_repo(Path(p.path))
    real = await env.svc.snapshot(p.id, "t1", p.path)
    other = await env.project("other")
    make_repo(Path(other.path), marker="other")
    elsewhere = await env.svc.snapshot(other.id, "t9", other.path)

    # a store path with the right name, but not the one Octra rooted
    decoy_src = tmp_path / "decoy" / snapshot_name("forge", "t1")
    decoy_src.mkdir(parents=True)
    (decoy_src / "evil.sh").write_text("#!/bin/sh\nrm -rf ~\n")
    decoy = await nix.add(decoy_src)
    # a store path that is a symlink with the right name
    link_src = tmp_path / "link" / snapshot_name("forge", "t1")
    link_src.parent.mkdir()
    os.symlink(real.store_path, link_src)
    link = await nix.add(link_src)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(real.store_path, tmp_path / "sym")

    forgeries = {
        "another task's snapshot": elsewhere.store_path,
        "an unrooted store path": decoy,
        "a symlink in the store": link,
        "a folder outside the store": str(outside),
        "a symlink outside the store": str(tmp_path / "sym"),
        "a file inside the snapshot": real.store_path + "/run.sh",
        "a dotted path": real.store_path + "/../" + os.path.basename(real.store_path),
    }
    raw = sqlite3.connect(env.db.path)
    for why, path in forgeries.items():
        with raw:
            raw.execute("UPDATE snapshots SET store_path = ? WHERE task_id = 't1'", (path,))
        with pytest.raises(RpcError) as err:
            await env.svc.restore("t1", str(tmp_path / "dest"))
        assert err.value.code == -32004, why
        assert not (tmp_path / "dest").exists(), why
    # a forged GC root path is refused too
    with raw:
        raw.execute("UPDATE snapshots SET store_path = ?, gcroot = ? WHERE task_id = 't1'", (decoy, str(tmp_path / "myroot")))
    os.symlink(decoy, tmp_path / "myroot")
    with pytest.raises(RpcError) as err:
        await env.svc.restore("t1", str(tmp_path / "dest"))
    assert err.value.code == -32004
    # the honest record still restores
    with raw:
        raw.execute(
            "UPDATE snapshots SET store_path = ?, gcroot = ? WHERE task_id = 't1'",
            (real.store_path, str(env.gcroots / snapshot_name("forge", "t1"))),
        )
    raw.close()
    assert await env.svc.restore("t1", str(tmp_path / "dest")) == str(tmp_path / "dest")


async def test_a_fifo_is_a_clear_error_and_the_folder_stays(env):
    p = await env.project("fifo")
    folder = Path(p.path)
    (folder / "a.txt").write_text("keep me\n")
    os.mkfifo(folder / "pipe")
    with pytest.raises(RpcError) as err:
        await env.svc.snapshot(p.id, "t1", folder)
    assert err.value.kind == "snapshot_error" and err.value.code == -32007
    assert str(folder / "pipe") in err.value.message and "FIFO" in err.value.message
    assert "kept" in err.value.message
    assert (folder / "a.txt").read_text() == "keep me\n" and stat.S_ISFIFO(os.lstat(folder / "pipe").st_mode)
    assert await env.svc.list_for_project(p.id) == []
    assert not any((env.root / "tmp").iterdir()), "no staging folder is left behind"


async def test_without_nix_the_folder_stays(env, monkeypatch, tmp_path):
    p = await env.project("nonix")
    make_repo(Path(p.path))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RpcError) as err:
        await env.svc.snapshot(p.id, "t1", p.path)
    assert err.value.kind == "unavailable" and "Nix is not installed" in err.value.message
    assert (Path(p.path) / "README.md").exists()


async def test_gc_keeps_the_newest_and_deletes_the_rest(env, tmp_path):
    p = await env.project("many")
    paths = []
    for i in range(3):
        folder = Path(p.path)
        folder.mkdir(exist_ok=True)
        make_repo(folder, marker=f"v{i}") if i == 0 else (folder / "README.md").write_text(f"v{i}\n")
        if i:
            git(folder, "commit", "-qam", f"v{i}")
        paths.append((await env.svc.snapshot(p.id, f"t{i}", folder)).store_path)
        if i < 2:  # the next run starts from the latest snapshot
            assert (await env.svc.start_from_latest(p.id, folder))["task_id"] == f"t{i}"
            assert gitrepo.has_repo(folder) and not (folder / ".git").exists(), "history back in the data folder"
            assert await env.svc.start_from_latest(p.id, folder) is None, "a folder with work in it is left alone"
    assert (await env.svc.latest_for_project(p.id))["task_id"] == "t2"
    res = await env.svc.gc(keep=1)
    assert res["dropped"] == 2 and res["kept"] == 1
    assert sorted(res["deleted"]) == sorted(paths[:2])
    assert not any(os.path.exists(x) for x in paths[:2]) and os.path.isdir(paths[2])
    assert sorted(os.listdir(env.gcroots)) == [snapshot_name("many", "t2")]
    with pytest.raises(RpcError) as err:
        await env.svc.restore("t0", str(tmp_path / "gone"))
    assert err.value.kind == "not_found"
    with pytest.raises(RpcError) as err:
        await env.svc.gc(keep=0)
    assert err.value.kind == "invalid_params"


@pytest.fixture
def nix_daemon(octra_env):
    d = DaemonProcess(octra_env).start(env={"NIX_CONFIG": "substituters ="})
    try:
        yield d
    finally:
        try:
            d.stop()
        except RuntimeError:
            d.kill()


async def test_methods_and_commands_through_the_daemon(nix_daemon, tmp_path, monkeypatch):
    oenv = nix_daemon.oenv
    monkeypatch.setattr(statedirs, "_data_dir", oenv.data_dir)
    db = await Database(oenv.data_dir / "octra.db").open()
    try:
        projects = Projects(db, oenv.data_dir / "projects")
        p = await projects.create("cli-demo")
        Path(p.path).mkdir(parents=True)
        make_repo(Path(p.path))
        svc = SnapshotService(db, gcroots_dir=oenv.data_dir / "gcroots", work_dir=oenv.data_dir / "tmp")
        info = await svc.snapshot(p.id, "t1", p.path)
    finally:
        await db.close()

    out = nix_daemon.ctl("snapshots", "cli-demo")
    assert out.returncode == 0, out.stderr
    assert "t1" in out.stdout and info.store_path in out.stdout
    async with nix_daemon.connect() as c:
        listed = await c.call("project.snapshots", {"project": p.id})
        assert listed["snapshots"][0]["store_path"] == info.store_path
        with pytest.raises(RpcError) as err:
            await c.call("project.restore", {"task_id": "nope"})
        assert err.value.code == -32001

    out = nix_daemon.ctl("restore", "t1", "--to", str(tmp_path / "copy"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "copy")
    assert os.access(tmp_path / "copy" / "run.sh", os.X_OK)
    assert "second: script" in git(tmp_path / "copy", "log")

    raw = sqlite3.connect(oenv.data_dir / "octra.db")
    with raw:
        raw.execute("UPDATE snapshots SET store_path = '/etc' WHERE task_id = 't1'")
    raw.close()
    out = nix_daemon.ctl("restore", "t1", "--to", str(tmp_path / "copy2"))
    assert out.returncode == 1 and "forbidden" in out.stderr and "not a path directly inside the Nix store" in out.stderr
    async with nix_daemon.connect() as c:
        with pytest.raises(RpcError) as err:
            await c.call("project.restore", {"task_id": "t1", "dest": str(tmp_path / "copy3")})
        assert err.value.code == -32004

    out = nix_daemon.ctl("gc", "--keep", "1")
    assert out.returncode == 0 and "dropped 0 snapshot(s), kept 1" in out.stdout
    assert nix_daemon.ctl("gc", "--keep", "0").returncode == 2


async def test_a_submodule_comes_back_as_its_files(env, tmp_path):
    """A submodule's files and gitlink come back; its own repository does not (its
    ``.git`` in the tree is never snapshotted, and Octra keeps no submodule repositories)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lib.txt").write_text("library\n")
    git(lib, "init", "-q")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    p = await env.project("withsub")
    folder = Path(p.path)
    gitrepo.init(folder)
    (folder / "app.txt").write_text("app\n")
    git(folder, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "app with a submodule")
    await env.svc.snapshot(p.id, "t1", folder)
    dest = tmp_path / "back"
    await env.svc.restore("t1", str(dest))
    assert (dest / "vendor" / "lib" / "lib.txt").read_text() == "library\n"
    assert not (dest / "vendor" / "lib" / ".git").exists()
    assert git(dest, "ls-files", "-s", "vendor/lib").startswith("160000 ")
    assert git(dest, "status", "--porcelain") == ""
