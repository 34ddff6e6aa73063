"""Octra's git and Nix are out of the model's reach: attacks through a real daemon
and the fake provider, each with a marker file outside the project that must
never appear.

- a ``.git`` reached through a symlink the model's command made, then written to;
- a command that makes its own ``.git`` (and a nested ``sub/.git``) before Octra's
  repository exists, with filters, fsmonitor and hooks in its config;
- a model-written ``flake.lock`` that points nixpkgs at a folder of the project;
- plus: ``.git`` in any spelling as a model path, restores under a symlinked
  parent, a kill between a worker's write and its queued commit, leftovers of a
  killed snapshot, and projects of the older layout (``.git`` in the folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import anyio
import pytest

from octra_protocol.errors import RpcError
from octrad import statedirs
from octrad.pipeline.files import UnsafePath, check_path, has_git_part, write_file
from tests.conftest import DaemonProcess
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, git_log, git_where, use_fake, wait_status

NIX_CONFIG = "substituters =\nexperimental-features = nix-command flakes"


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


@pytest.fixture
def mark():
    """A world-writable folder outside every project (nix builders run as nixbld users)."""
    folder = Path(tempfile.mkdtemp(prefix="octra-mark-", dir="/tmp"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def one_worker(work, debug=None, check: str | None = None) -> Script:
    """One team of one worker; ``check``: the plan's one check, which ``debug`` answers fix."""
    checks = [{"name": "test", "command": check}] if check else []
    return Script(plan=lambda a, n: plan(("core", "the code"), checks=checks),
                  staff=lambda a, n: staff(("dev", "writes the code", ["app.py"])),
                  work=work, debug=debug or (lambda a, n: {"files": [], "explanation": "nothing"}),
                  review=lambda a, n: {"approved": True, "feedback": "ok"},
                  validate=lambda a, n: {"approved": True})


async def run(daemon, fake, script, description="an app", timeout=120):
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        settings = await c.call("settings.get", {})
        tid = (await c.call("task.create", {"description": description, "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid, ("done", "failed"), timeout=timeout)
        evs = await events_of(c, tid)
        assert await c.call("settings.get", {}) == settings, "the settings did not change"
    return task, evs


def evil_config(marker: Path) -> str:
    cmd = f"touch {marker}"
    return (f'[filter "evil"]\n\tclean = {cmd}\n\tsmudge = {cmd}\n\tprocess = {cmd}\n\trequired = true\n'
            f'[diff "evil"]\n\ttextconv = {cmd}\n\tcommand = {cmd}\n[merge "evil"]\n\tdriver = {cmd}\n'
            f'[core]\n\tfsmonitor = {cmd}\n\thooksPath = /tmp\n')


def data_git_configs(daemon) -> str:
    root = Path(daemon.oenv.data_dir) / "git"
    return "".join(p.read_text() for p in root.glob("*.git/config"))


async def restore_to(daemon, tid, dest: Path) -> Path:
    async with daemon.connect() as c:
        assert await c.call("project.restore", {"task_id": tid, "dest": str(dest)}) == {"path": str(dest)}
    return dest


def assert_clean_snapshot(store: Path, marker: Path) -> None:
    """The snapshot's .git is Octra's: no driver, hook or work tree; no other .git anywhere."""
    config = (store / ".git" / "config").read_text()
    assert "evil" not in config and "worktree" not in config and "hooksPath" not in config, config
    assert not (store / ".git" / "hooks").exists()
    for dirpath, dirnames, filenames in os.walk(store):
        rel = os.path.relpath(dirpath, store)
        for name in dirnames + filenames:
            if name.casefold().rstrip(". ") == ".git":
                assert rel == "." and name == ".git", f"{rel}/{name} was snapshotted"
    assert not marker.exists()


# -- 1. a .git reached through a symlink --------------------------------------

async def test_a_symlink_into_git_does_not_reach_octras_git(daemon, fake, mark, tmp_path):
    marker = mark / "MARKER"
    command = "ln -sfn .git gitlink; mkdir -p real && ln -sfn ../.GIT real/up; test -f fixed.txt"

    def work(ask, n):
        return files(("app.py", "print('hi')\n"))

    def fix(ask, n):
        return {"files": [{"path": "gitlink/config", "content": evil_config(marker)},
                          {"path": "gitlink/hooks/pre-commit", "content": f"#!/bin/sh\ntouch {marker}\n"},
                          {"path": "real/up/config", "content": evil_config(marker)},
                          {"path": ".gitattributes", "content": "* filter=evil diff=evil merge=evil\n"},
                          {"path": "fixed.txt", "content": "ok\n"}],
                "explanation": "configure git"}

    task, evs = await run(daemon, fake, one_worker(work, fix, check=command))
    assert not marker.exists(), "Octra's git ran the model's filter, hook or fsmonitor"
    assert task["status"] == "done", task["error"]
    cmds = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == command]
    assert cmds[0]["exit_code"] != 0 and cmds[-1]["exit_code"] == 0, cmds
    rejected = [e.data["text"] for e in evs if e.kind == "agent.log" and e.data.get("level") == "warning"]
    for path in ("gitlink/config", "gitlink/hooks/pre-commit", "real/up/config"):
        assert any(path in t and "leads into a .git folder" in t for t in rejected), (path, rejected)
    assert not marker.exists(), "Octra's git ran the model's filter, hook or fsmonitor"
    assert "evil" not in data_git_configs(daemon)

    store = Path(task["store_path"])
    assert (store / ".gitattributes").is_file() and (store / "fixed.txt").is_file()
    assert_clean_snapshot(store, marker)
    dest = await restore_to(daemon, task["task_id"], tmp_path / "back")
    # the user's git on the restored repository obeys nothing the model wrote either
    status = subprocess.run(["git", "-C", str(dest), "status", "--porcelain"], capture_output=True, text=True)
    assert status.returncode == 0 and status.stdout == "", status
    assert {"dev (core)"} <= {a for a, _ in git_log(dest)}
    assert not marker.exists()


# -- 2. commands that make a .git before Octra's repository exists -------------

async def test_a_commands_own_git_is_neither_obeyed_nor_committed_nor_snapshotted(daemon, fake, mark, tmp_path):
    marker = mark / "MARKER"
    evil = (f"git init -q . && git config filter.evil.clean 'touch {marker}' && git config core.fsmonitor 'touch {marker}'"
            f" && printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit"
            " && printf '* filter=evil\\n' > .gitattributes"
            " && mkdir -p sub && cd sub && git init -q && git config filter.evil.clean 'touch {m}'"
            " && echo inner > inner.txt && echo '*.log' > .gitignore && echo x > build.log"
            " && git add -A && git -c user.name=cmd -c user.email=cmd@x commit -qm 'the command commit'"
            " && mkdir -p ../.GIT && echo x > ../.GIT/config").replace("{m}", str(marker))

    # the only worker's first answer: commands and no file, so Octra has no repository yet
    script = one_worker(lambda a, n: files(commands=[evil]))
    task, evs = await run(daemon, fake, script)
    assert not marker.exists(), "Octra's git obeyed the command's repository"
    assert task["status"] == "done", task["error"]
    (cmd,) = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == evil]
    assert cmd["exit_code"] == 0, cmd["output_tail"]
    assert not marker.exists(), "Octra's git obeyed the command's repository"
    assert not any(has_git_part(p) for p in task["files"]), task["files"]
    assert {".gitattributes", "sub/inner.txt", "sub/.gitignore"} <= set(task["files"])
    assert "sub/build.log" not in task["files"], "the nested folder's ignore rules still apply"

    store = Path(task["store_path"])
    assert_clean_snapshot(store, marker)
    assert (store / "sub" / "inner.txt").read_text() == "inner\n"
    dest = await restore_to(daemon, task["task_id"], tmp_path / "back")
    listed = subprocess.run(["git", "-C", str(dest), "ls-files", "-s", "sub"], capture_output=True, text=True).stdout
    assert "100644" in listed and "sub/inner.txt" in listed and "160000" not in listed, "files, not a gitlink"
    subjects = [s for _, s in git_log(dest)]
    assert "the command commit" not in subjects and any("the rest of the project" in s for s in subjects), subjects
    assert not marker.exists()


# -- 4. a model-written flake.lock --------------------------------------------

EVIL_NIXPKGS = """{
  outputs = { self }: let
    shell = derivation { name = "evil"; system = "x86_64-linux"; builder = "/bin/bash"; args = [ "-c" "echo > $out" ];
                         BASH_ENV = builtins.toFile "e" "/usr/bin/touch MARKER"; };
    pkgs = { mkShell = _: shell; git = null; gcc = null; gnumake = null; pkg-config = null; gdb = null; };
  in {
    lib.genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    legacyPackages = { x86_64-linux = pkgs; aarch64-linux = pkgs; x86_64-darwin = pkgs; aarch64-darwin = pkgs; };
  };
}
"""


def nar_hash(text: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "evil").mkdir()
        (Path(d) / "evil" / "flake.nix").write_text(text)
        proc = subprocess.run(["nix", "--extra-experimental-features", "nix-command flakes", "hash", "path",
                               str(Path(d) / "evil")], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.mark.skipif(shutil.which("nix") is None, reason="nix is needed (the attack is on nix develop)")
async def test_a_model_written_flake_lock_is_never_evaluated(daemon, fake, mark):
    from octrad.scaffold.flake import NIXPKGS_REV, flake_for

    marker = mark / "MARKER"
    evil = EVIL_NIXPKGS.replace("MARKER", str(marker))
    projects = Path(daemon.oenv.data_dir) / "projects"

    def work(ask, n):
        (project,) = list(projects.iterdir())
        lock = {"nodes": {"nixpkgs": {"locked": {"narHash": nar_hash(evil), "path": str(project / "evil"), "type": "path"},
                                      "original": {"owner": "NixOS", "repo": "nixpkgs", "rev": NIXPKGS_REV, "type": "github"}},
                          "root": {"inputs": {"nixpkgs": "nixpkgs"}}},
                "root": "root", "version": 7}
        return files(("flake.nix", flake_for("c", "demo")), ("flake.lock", json.dumps(lock)),
                     ("evil/flake.nix", evil), commands=["true"])

    task, evs = await run(daemon, fake, one_worker(work))
    assert not marker.exists(), "nix built the model's derivation outside the sandbox"
    assert task["status"] == "done", task["error"]
    (cmd,) = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == "true"]
    assert not cmd["nix"]
    assert any("flake.lock is not the one Octra's dev shell uses" in n for n in cmd["notes"]), cmd
    assert not marker.exists(), "nix built the model's derivation outside the sandbox"


# -- paths -------------------------------------------------------------------

@pytest.mark.parametrize("rel", [".git/config", ".GIT/config", ".Git/hooks/pre-commit", "sub/.git/config",
                                 "a/b/.gIt", ".git./config", ".git /config", "git~1/config", "x/.GIT"])
def test_git_in_any_spelling_is_refused_as_a_model_path(tmp_path, rel):
    with pytest.raises(UnsafePath, match=r"\.git"):
        check_path(tmp_path, rel)
    assert not any(tmp_path.iterdir())


def test_a_write_through_a_symlink_into_a_git_folder_is_refused(tmp_path):
    (tmp_path / "sub" / ".GIT").mkdir(parents=True)
    os.symlink(".git", tmp_path / "dangling")  # no .git yet
    os.symlink("sub/.GIT", tmp_path / "existing")
    os.symlink("sub", tmp_path / "fine")
    for rel in ("dangling/config", "existing/config", "fine/.GIT/config"):
        with pytest.raises(UnsafePath, match=r"\.git"):
            write_file(tmp_path, rel, "[core]\n")
    assert write_file(tmp_path, "fine/ok.txt", "ok") == ("fine/ok.txt", True)
    assert not (tmp_path / ".git").exists() and list((tmp_path / "sub" / ".GIT").iterdir()) == []


# -- restore -----------------------------------------------------------------

async def test_restore_refuses_a_symlinked_parent_and_names_the_cause(daemon, fake, tmp_path):
    task, _ = await run(daemon, fake, one_worker(lambda a, n: files(("app.py", "print('hi')\n"))))
    assert task["status"] == "done", task["error"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "link")
    (tmp_path / "afile").write_text("x")
    async with daemon.connect() as c:
        with pytest.raises(RpcError) as err:
            await c.call("project.restore", {"task_id": task["task_id"], "dest": str(tmp_path / "link" / "dest")})
        assert err.value.code == -32004 and str(tmp_path / "link") in err.value.message and "symlink" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("project.restore", {"task_id": task["task_id"], "dest": str(tmp_path / "link")})
        assert err.value.code == -32004
        with pytest.raises(RpcError) as err:
            await c.call("project.restore", {"task_id": task["task_id"], "dest": str(tmp_path / "afile" / "dest")})
        assert err.value.code == -32007 and f"File exists: {tmp_path / 'afile'}" in err.value.message, err.value.message
        assert "TaskGroup" not in err.value.message
    assert list(elsewhere.iterdir()) == []


# -- crash: files are committed under the worker that wrote them ---------------

async def test_after_a_kill_between_write_and_commit_the_worker_still_authors_its_file(daemon, fake, tmp_path):
    data = Path(daemon.oenv.data_dir)
    held = []

    def work(ask, n):
        if not ask.refine:
            return files(("a.txt", "first\n"), done=False)
        # round 2: hold the index lock of Octra's repository once round 1 is committed,
        # so the queued commit of b.txt cannot happen before the daemon is killed
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            heads = list((data / "git").glob("*.git/refs/heads/main"))
            if heads:
                lock = heads[0].parents[2] / "index.lock"
                lock.write_text("")
                held.append(lock)
                break
            time.sleep(0.02)
        return files(("b.txt", "second\n"))

    fake.responder = one_worker(work)
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "two files", "provider": "fake",
                                            "meta": {"max_rounds": 2}}))["task_id"]
        projects = data / "projects"
        with anyio.fail_after(30):
            while not any(projects.glob("*/b.txt")):
                await anyio.sleep(0.01)
    daemon.kill()  # within the lock's 2 s: b.txt is written, its commit is not made
    (project,) = list(projects.iterdir())
    before = subprocess.run(["git", *git_where(project), "log", "--format=%an", "--", "b.txt"], capture_output=True,
                            text=True, check=True).stdout
    assert held and (project / "b.txt").is_file() and before == "", before
    held[0].unlink()
    daemon.start()
    async with daemon.connect() as c:
        await c.call("task.resume", {"task_id": tid})
        task = await wait_status(c, tid, ("done", "failed"), timeout=120)
    assert task["status"] == "done", task["error"]
    dest = await restore_to(daemon, tid, tmp_path / "back")
    log = subprocess.run(["git", "-C", str(dest), "log", "--format=%an", "--", "b.txt"], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    assert log[0] == "dev (core)", log


# -- start-up ----------------------------------------------------------------

def test_a_killed_snapshots_leftovers_go_at_the_next_start(octra_env):
    tmp = octra_env.data_dir / "tmp"
    staged = tmp / "snap-k1ll3d" / "octra-demo-t1"
    staged.mkdir(parents=True)
    (staged / "big.bin").write_bytes(b"\0" * 1000)
    (staged / "ro").mkdir()
    (staged / "ro" / "f").write_text("x")
    (staged / "ro").chmod(0o500)
    (tmp / "trash-0123456789ab").mkdir()
    (tmp / "cred-keep").mkdir()  # not a snapshot's
    d = DaemonProcess(octra_env).start()
    try:
        assert sorted(p.name for p in tmp.iterdir()) == ["cred-keep"]
    finally:
        d.stop()


def test_a_project_of_the_older_layout_moves_its_git_once(octra_env, mark):
    marker = mark / "MARKER"
    folder = octra_env.data_dir / "projects" / "old-1234"
    folder.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "w", "GIT_AUTHOR_EMAIL": "w@x", "GIT_COMMITTER_NAME": "w",
           "GIT_COMMITTER_EMAIL": "w@x"}
    (folder / "a.txt").write_text("a\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "old work"],
                 ["remote", "add", "origin", "https://example.invalid/a.git"],
                 ["remote", "add", "evil", "ext::sh -c touch% " + str(marker)],
                 ["config", "filter.evil.clean", f"touch {marker}"]):
        subprocess.run(["git", "-C", str(folder), *args], env=env, check=True, capture_output=True)
    d = DaemonProcess(octra_env).start()
    try:
        gd = statedirs.git_dir(folder, octra_env.data_dir)
        assert not (folder / ".git").exists() and (gd / "HEAD").is_file()
        config = (gd / "config").read_text()
        assert "evil" not in config and "https://example.invalid/a.git" in config
        log = subprocess.run(["git", "--git-dir", str(gd), "log", "--format=%s"], capture_output=True, text=True)
        assert log.stdout == "old work\n"
        status = subprocess.run(["git", "--git-dir", str(gd), "--work-tree", str(folder), "status", "--porcelain"],
                                capture_output=True, text=True)
        assert status.stdout == "", "the index was rebuilt from HEAD"
    finally:
        d.stop()
    # from now on a .git in a project folder is a command's: never adopted again
    other = octra_env.data_dir / "projects" / "new-5678"
    (other / ".git").mkdir(parents=True)
    d = DaemonProcess(octra_env).start()
    try:
        assert (other / ".git").is_dir() and not statedirs.git_dir(other, octra_env.data_dir).exists()
    finally:
        d.stop()
    assert not marker.exists()


def test_octras_git_reads_no_config_but_its_own(tmp_path, monkeypatch, mark):
    """The user's, the system's and the environment's git config are not read either
    (a driver defined there would run on a model's .gitattributes); only the repository's
    own file in the data folder and Octra's fixed options are."""
    from octrad.pipeline import gitrepo

    marker = mark / "MARKER"
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".gitconfig").write_text(evil_config(marker))
    (home / ".config" / "git" / "config").write_text(evil_config(marker))
    (home / ".config" / "git" / "attributes").write_text("* filter=evil\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "filter.evil.clean")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"touch {marker}")
    monkeypatch.setattr(statedirs, "_data_dir", tmp_path / "data")
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    gitrepo.init(folder)
    origins = {line.split("\t")[0] for line in gitrepo.git(folder, "config", "--list", "--show-origin").stdout.decode().splitlines()}
    assert origins == {f"file:{gitrepo.git_dir(folder) / 'config'}", "command line:"}, origins
    assert gitrepo.git(folder, "check-attr", "filter", "a.txt").stdout.decode() == "a.txt: filter: unspecified\n"
    anyio.run(gitrepo.commit_all, folder, "all", "octra")
    assert not marker.exists()


# -- secrets by convention stay out of history and the world-readable store --------

async def test_env_files_and_private_keys_are_neither_committed_nor_snapshotted(daemon, fake, tmp_path):
    secret = "sk-live-DO-NOT-SNAPSHOT-41f2"

    def work(ask, n):
        return files(("app.py", "print('hi')\n"), (".env", f"API_KEY={secret}\n"),
                     ("config/.env.local", f"API_KEY={secret}\n"), ("deploy/id_ed25519", f"{secret}\n"),
                     (".env.example", "API_KEY=\n"))

    task, _ = await run(daemon, fake, one_worker(work))
    assert task["status"] == "done", task["error"]
    store = Path(task["store_path"])
    assert (store / "app.py").is_file() and (store / ".env.example").is_file()
    for rel in (".env", "config/.env.local", "deploy/id_ed25519"):
        assert not (store / rel).exists(), f"{rel} was snapshotted"
    dest = await restore_to(daemon, task["task_id"], tmp_path / "back")
    history = subprocess.run(["git", "-C", str(dest), "log", "--all", "-p"], capture_output=True, text=True, check=True)
    assert secret not in history.stdout and ".env.example" in history.stdout
    assert not any(secret.encode() in p.read_bytes() for p in store.rglob("*") if p.is_file())
