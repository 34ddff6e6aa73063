"""File-tree work for snapshots: choosing what goes in, staging it, counting a
stored tree, and copying one back out.  Synchronous (run in a worker thread).

What goes in: the files git tracks plus the untracked files it does not
ignore, never a ``.git`` folder of the tree (in any spelling, at any depth: a
command's, never Octra's), and a clean ``.git`` that Octra writes from the
project's repository in the data folder (history, Octra's own config, an index
fresh from HEAD, which carries no timestamps or inode numbers, so identical
content always gives the same store path).  A folder without a repository
goes in whole, but for ``.git`` folders.

Staging hard-links into the temporary tree with ``cp -l --parents`` (no data
copied, a few processes for any number of files); folders that hold nothing
git ignores are taken in one piece.  Across file systems it copies.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from ..pipeline import gitrepo
from ..pipeline.files import is_git_name, is_secret_name
from ..scaffold.environment import child_env

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a Unix socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class TreeError(Exception):
    """The tree cannot be snapshotted as it is; the message names the file."""


def select(folder: Path) -> tuple[list[str], bool]:
    """What goes in: relative paths to take whole (files, or folders holding
    nothing git ignores), and whether the project has a repository (whose
    clean ``.git`` goes in).

    Everything git does not ignore is either tracked or untracked-not-ignored,
    so the walk only descends into folders that hold an ignored path; the rest
    is taken in bulk."""
    if not gitrepo.has_repo(folder):
        return sorted(n for n in os.listdir(folder) if not is_git_name(n)), False
    try:
        proc = gitrepo.git(folder, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory")
    except gitrepo.GitError as exc:
        raise TreeError(str(exc)) from None
    ignored = {r.rstrip("/") for r in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if r}
    blocked = {""}
    for rel in ignored:
        parts = rel.split("/")
        blocked.update("/".join(parts[:i]) for i in range(1, len(parts)))
    whole: list[str] = []
    stack = [""]
    while stack:
        cur = stack.pop()
        with os.scandir(folder / cur if cur else folder) as it:
            for entry in it:
                rel = f"{cur}/{entry.name}" if cur else entry.name
                if is_git_name(entry.name) or rel in ignored:
                    continue
                if rel in blocked and entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                else:
                    whole.append(rel)
    return sorted(whole), True


#: paths per cp process (well under the argument-size limit)
_BATCH = 2000


def stage(folder: Path, tree: Path, whole: list[str], with_git: bool = False) -> tuple[int, int]:
    """Hard-link ``whole`` from ``folder`` into the new folder ``tree`` with
    ``cp -al --parents``: a few processes, no data copied (across file systems:
    copied); drop every ``.git`` folder that came along inside them; then, when
    ``with_git``, write Octra's clean ``.git``.  Returns (entries, bytes) of the
    staged tree; special files are refused with their name."""
    tree.mkdir()
    for i in range(0, len(whole), _BATCH):
        _cp_parents(folder, whole[i : i + _BATCH], tree)
    _drop_kept_out(tree)
    if with_git:
        try:
            gitrepo.export_git(folder, tree / ".git")
        except gitrepo.GitError as exc:
            raise TreeError(str(exc)) from None
    return count(tree, refuse_special=folder)


def _drop_kept_out(tree: Path) -> None:
    """Remove from a staged tree every entry git would take for its own folder (a
    command's ``.git``, ``sub/.git``, ``.GIT``...) and every file that holds secrets
    by convention (``.env``, private keys: :func:`is_secret_name`): the Nix store is
    readable by every local user, so they are never snapshotted."""
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if is_git_name(name):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            elif is_secret_name(name) and not (os.path.isdir(path) and not os.path.islink(path)):
                os.unlink(path)
        dirnames[:] = [d for d in dirnames if not is_git_name(d)]


def _cp_parents(folder: Path, rels: list[str], tree: Path) -> None:
    if not rels:
        return
    env = child_env()
    args = ["--parents", "--no-dereference", "-t", str(tree), "--", *rels]
    proc = subprocess.run(["cp", "-Rl", *args], cwd=folder, capture_output=True, env=env)
    if proc.returncode != 0:  # e.g. another file system: copy instead
        proc = subprocess.run(["cp", "-R", "--preserve=mode,links", *args], cwd=folder, capture_output=True, env=env)
        if proc.returncode != 0:
            raise TreeError(f"cannot stage files of {folder}: {proc.stderr.decode(errors='replace').strip()}")


def count(root: str | Path, refuse_special: Path | None = None) -> tuple[int, int]:
    """(entries, bytes) of a tree: files and symlinks, symlinks counting no
    bytes.  With ``refuse_special`` (the folder the tree was staged from), a
    FIFO, socket or device raises :class:`TreeError` naming its original path."""
    entries = size = 0
    base = str(root)
    stack = [base]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                entries += 1
                if entry.is_symlink():
                    continue
                st = entry.stat(follow_symlinks=False)
                if refuse_special is not None and not stat.S_ISREG(st.st_mode):
                    kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
                    original = refuse_special / os.path.relpath(entry.path, base)
                    raise TreeError(f"{original} is {kind}; a snapshot can hold only files, folders and symlinks")
                size += st.st_size
    return entries, size


def copy_out(store_path: str, dest: Path) -> None:
    """Copy a stored tree to the new folder ``dest``: symlinks stay symlinks,
    executable bits stay, and everything becomes writable by its owner."""
    env = child_env()
    for argv in (["cp", "-RP", store_path, str(dest)], ["chmod", "-R", "u+w", str(dest)]):
        proc = subprocess.run(argv, capture_output=True, env=env)
        if proc.returncode != 0:
            raise TreeError(f"{argv[0]}: {proc.stderr.decode(errors='replace').strip() or f'exit code {proc.returncode}'}")
