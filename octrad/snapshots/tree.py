"""File-tree work for snapshots: choosing what goes in, staging it, counting a
stored tree, and copying one back out.  Synchronous (run in a worker thread).

What goes in: the files git tracks plus the untracked files it does not
ignore, and the whole ``.git`` folder (history), except its index: the staging
copy gets an index written fresh from HEAD (``git read-tree``), which carries
no timestamps or inode numbers, so identical content always gives the same
store path.  A folder without ``.git`` goes in whole.

Staging hard-links files into the temporary tree (one syscall each, no data
copied); across file systems it copies.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from ..scaffold.environment import child_env

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a Unix socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
#: left out of .git: rebuilt (index) or transient
_GIT_SKIP = {"index", "index.lock", "HEAD.lock", "gc.pid", "gc.log"}


class TreeError(Exception):
    """The tree cannot be snapshotted as it is; the message names the file."""


def _git(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, env=child_env(env), check=False)


def select(folder: Path) -> tuple[list[str], list[str], bool]:
    """What belongs in the snapshot: relative paths of files and symlinks,
    folders to create even when empty, and whether ``.git`` goes in (whole,
    but for its index)."""
    if not (folder / ".git").is_dir():
        files, dirs = _walk(folder, "")
        return files, dirs, False
    proc = _git(folder, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if proc.returncode != 0:
        raise TreeError(f"git ls-files failed in {folder}: {proc.stderr.decode(errors='replace').strip()}")
    chosen: dict[str, None] = {}
    dirs: list[str] = []
    for rel in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not rel:
            continue
        if rel.endswith("/"):  # a nested repository git does not descend into: take it whole
            files, subdirs = _walk(folder, rel.rstrip("/"))
            chosen.update(dict.fromkeys(files))
            dirs += subdirs
        else:
            chosen[rel] = None
    return list(chosen), dirs, True


def _walk(root: Path, rel: str) -> tuple[list[str], list[str]]:
    files: list[str] = []
    dirs: list[str] = [rel] if rel else []
    stack = [rel]
    while stack:
        cur = stack.pop()
        with os.scandir(root / cur if cur else root) as it:
            for entry in it:
                name = f"{cur}/{entry.name}" if cur else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(name)
                    dirs.append(name)
                else:
                    files.append(name)
    return files, dirs


def stage(folder: Path, tree: Path, paths: list[str], dirs: list[str] = (), with_git: bool = False) -> tuple[int, int]:
    """Link (or copy) ``paths`` from ``folder`` into the new folder ``tree``,
    creating ``dirs`` too, and ``.git`` when ``with_git``; returns (entries,
    bytes).  Special files are refused with their name."""
    tree.mkdir()
    if with_git:
        _link_tree(folder / ".git", tree / ".git")
        for name in _GIT_SKIP:
            (tree / ".git" / name).unlink(missing_ok=True)
    made: set[str] = set()
    for d in dirs:
        os.makedirs(tree / d, exist_ok=True)
        made.add(d)
    entries = size = 0
    paths = list(paths)
    for rel in paths:  # (grows while iterating when a submodule is expanded)
        src = folder / rel
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            continue  # tracked but deleted from disk
        if stat.S_ISDIR(st.st_mode):  # a submodule git lists as one entry: taken whole
            files, subdirs = _walk(folder, rel)
            paths.extend(files)
            for d in subdirs:
                os.makedirs(tree / d, exist_ok=True)
                made.add(d)
            continue
        kind = _KINDS.get(stat.S_IFMT(st.st_mode))
        if kind:
            raise TreeError(f"{src} is {kind}; a snapshot can hold only files, folders and symlinks")
        parent = os.path.dirname(rel)
        if parent and parent not in made:
            os.makedirs(tree / parent, exist_ok=True)
            made.add(parent)
        dst = tree / rel
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
        entries += 1
        if not stat.S_ISLNK(st.st_mode):
            size += st.st_size
    if with_git:
        _fresh_index(tree)
        git_entries, git_bytes = count(tree / ".git")
        entries += git_entries
        size += git_bytes
    return entries, size


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a whole folder (``cp -al``: one process, no data copied); copy across file systems."""
    env = child_env()
    proc = subprocess.run(["cp", "-al", str(src), str(dst)], capture_output=True, env=env)
    if proc.returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        proc = subprocess.run(["cp", "-a", str(src), str(dst)], capture_output=True, env=env)
        if proc.returncode != 0:
            raise TreeError(f"cannot copy {src}: {proc.stderr.decode(errors='replace').strip()}")


def _fresh_index(tree: Path) -> None:
    proc = _git(tree, "--git-dir", str(tree / ".git"), "read-tree", "HEAD")
    if proc.returncode != 0:
        unborn = _git(tree, "--git-dir", str(tree / ".git"), "rev-parse", "--verify", "-q", "HEAD").returncode != 0
        if unborn:
            return  # no commit yet: no index
        raise TreeError(f"git read-tree failed: {proc.stderr.decode(errors='replace').strip()}")


def count(root: str | Path) -> tuple[int, int]:
    """(entries, bytes) of a tree: files and symlinks, symlinks counting no bytes."""
    entries = size = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entries += 1
                    if not entry.is_symlink():
                        size += entry.stat(follow_symlinks=False).st_size
    return entries, size


def copy_out(store_path: str, dest: Path) -> None:
    """Copy a stored tree to the new folder ``dest``: symlinks stay symlinks,
    executable bits stay, and everything becomes writable by its owner."""
    env = child_env()
    subprocess.run(["cp", "-RP", store_path, str(dest)], check=True, capture_output=True, env=env)
    subprocess.run(["chmod", "-R", "u+w", str(dest)], check=True, capture_output=True, env=env)
