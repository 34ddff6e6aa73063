"""Snapshots of finished projects in the Nix store, and restoring them.

The contract (``daemon.snapshots``, created in ``octrad/api/snapshots.py``):

- ``await snapshot(project_id, task_id, folder) -> SnapshotInfo(store_path, files, bytes)``
  commits nothing (the pipeline commits first).  It stages the tracked and
  untracked-but-not-ignored files (no ``.git`` of the tree) plus a clean ``.git``
  written from the project's repository in the data folder, in a temporary folder named
  ``octra-<project>-<task>``, runs ``nix-store --add`` on it, registers an
  indirect GC root ``<gcroots_dir>/<that name>``, verifies the stored tree (file
  count and bytes, the root's target), records the row, publishes
  ``snapshot.created``, and only then removes the working folder and its git
  directory (the history lives on in the snapshot).  Without Nix
  it raises ``RpcError`` kind ``unavailable``; any other failure raises kind
  ``snapshot_error``; in both cases the working folder is kept.
- ``await restore(task_id, dest=None) -> path``: copies the task's recorded
  snapshot to ``dest`` (default: the project's folder), which must not exist or
  be empty.  Files come back writable with their executable bits, history
  intact: restored elsewhere, a normal repository with its ``.git``; restored
  to the project's own folder (a repeat run), the ``.git`` moves to the
  project's git directory in the data folder.  A destination other than the
  project's folder reached through a symlink that a command, a model or another
  local user could have made (any not owned by root, or any when the daemon runs
  as root) is refused, kind ``forbidden``, naming it.  A recorded path that is not that task's snapshot (outside the store,
  a symlink, another store path, a path without our GC root) is refused with
  kind ``forbidden``.
- Leftovers of a daemon killed mid-snapshot (staging and trash folders under
  ``work_dir``) are removed when the service starts.
- ``await latest_for_project(project_id) -> dict | None``: the newest snapshot
  row (``task_id, store_path, files, bytes, created_at``); a repeat run on the
  project restores it with ``restore(row["task_id"], dest=project.path)``, or
  in one call ``await start_from_latest(project_id, project.path)``.
- ``await list_for_project(project_id)``, ``await gc(keep)``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio

from octra_protocol.errors import RpcError

from . import nix, tree
from .. import statedirs
from ..pipeline import gitrepo
from ..store import Database

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9+\-._?=]+")


@dataclass
class SnapshotInfo:
    store_path: str
    files: int
    bytes: int
    gcroot: str = ""


def snapshot_name(project: str, task_id: str) -> str:
    """The store name of a task's snapshot: ``octra-<project>-<task>`` in the
    characters Nix allows; the task id always ends it, unabridged."""
    task = _UNSAFE.sub("-", task_id).strip("-.") or "task"
    proj = _UNSAFE.sub("-", project).strip("-.")[:80] or "project"
    return f"octra-{proj}-{task}"


class SnapshotService:
    def __init__(
        self,
        db: Database,
        *,
        gcroots_dir: str | Path,
        work_dir: str | Path,
        publish: Callable[..., Awaitable[None]] | None = None,
        spawn: Callable[..., Any] | None = None,
    ):
        self.db = db
        self.gcroots_dir = Path(gcroots_dir)
        #: staging and trash folders live here (same file system as the projects: links, renames)
        self.work_dir = Path(work_dir)
        self._publish = publish
        #: starts background work (removing trash); without it, removal is awaited
        self._spawn = spawn
        self._clean_leftovers()

    def _clean_leftovers(self) -> None:
        """What a daemon killed mid-snapshot or mid-publish left in ``work_dir``: staging,
        trash and publishing copies (one daemon per data folder: none is in use now),
        and the git directories of such copies."""
        if not self.work_dir.is_dir():
            return
        for entry in self.work_dir.iterdir():
            if entry.name.startswith(("snap-", "trash-", "publish-")):
                _make_writable_and_remove(entry)
        root = statedirs.git_root()
        if root.is_dir():
            for gd in root.glob("*.git"):
                tree_dir = gitrepo.work_tree_of(gd)
                if tree_dir is not None and self.work_dir in tree_dir.parents and not tree_dir.exists():
                    _make_writable_and_remove(gd)

    # -- snapshot ------------------------------------------------------------
    async def snapshot(self, project_id: str, task_id: str, folder: str | Path) -> SnapshotInfo:
        folder = Path(folder)
        if not nix.available():
            raise RpcError.of(
                "unavailable",
                f"snapshots are unavailable: Nix is not installed (no nix-store on PATH); the working folder {folder} is kept",
                folder=str(folder),
            )
        if not folder.is_dir() or folder.is_symlink():
            raise RpcError.of("snapshot_error", f"cannot snapshot {folder}: not a folder", folder=str(folder))
        project = await self.db.fetchone("SELECT name FROM projects WHERE id = ?", (project_id,))
        name = snapshot_name(project["name"] if project else project_id, task_id)
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.gcroots_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = Path(tempfile.mkdtemp(prefix="snap-", dir=self.work_dir))
        staged = staging / name
        root = self.gcroots_dir / name
        recorded = False
        try:
            try:
                selected = await anyio.to_thread.run_sync(tree.select, folder)
                entries, size = await anyio.to_thread.run_sync(tree.stage, folder, staged, *selected)
                store_path, stored = await self._add_and_root(staged, root, (entries, size))
            except tree.TreeError as exc:
                raise self._fail(folder, str(exc))
            except nix.NixError as exc:
                raise self._fail(folder, f"nix-store failed: {exc}")
            except OSError as exc:
                raise self._fail(folder, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
            if stored != (entries, size):
                raise self._fail(
                    folder,
                    f"the stored tree {store_path} holds {stored[0]} files / {stored[1]} bytes, "
                    f"the staged one {entries} / {size}",
                )
            now = time.time()
            async with self.db.transaction() as w:
                await w.execute(
                    "INSERT INTO snapshots(project_id, task_id, store_path, gcroot, files, bytes, created_at) VALUES (?,?,?,?,?,?,?)",
                    (project_id, task_id, store_path, str(root), entries, size, now),
                )
                await w.execute("UPDATE tasks SET store_path = ?, updated_at = ? WHERE id = ?", (store_path, now, task_id))
            recorded = True
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled snapshot still tidies up
                await self._remove(staging)
                if not recorded:
                    await self._drop_unrecorded_root(root)
        # recorded and verified: now the working folder and its repository may go
        for gone in (folder, gitrepo.git_dir(folder)):
            trash = self.work_dir / f"trash-{secrets.token_hex(6)}"
            try:
                os.rename(gone, trash)
            except OSError:
                trash = gone
            await self._remove(trash)
        info = SnapshotInfo(store_path, entries, size, str(root))
        if self._publish is not None:
            await self._publish(
                "snapshot.created",
                {"project_id": project_id, "store_path": store_path, "files": entries, "bytes": size},
                task_id=task_id,
            )
        log.info("snapshot of %s: %s (%d files, %d bytes)", folder, store_path, entries, size)
        return info

    async def _add_and_root(self, staged: Path, root: Path, expected: tuple[int, int]) -> tuple[str, tuple[int, int]]:
        """``nix-store --add``, register the GC root, count what the store holds.

        Between the add and the root the path has no root at all, so a
        ``nix-store --gc`` running at that moment may collect it, even halfway;
        then it is added again (the root already protects it), up to 3 times.
        Returns the store path and its (files, bytes)."""
        stored: tuple[int, int] = (-1, -1)
        store_path = ""
        for _ in range(3):
            store_path = await nix.add(staged)
            if not (root.is_symlink() and os.readlink(root) == store_path):
                await nix.add_root(root, store_path)
            try:
                stored = await anyio.to_thread.run_sync(tree.count, store_path)
            except OSError:
                continue
            if stored == expected and os.readlink(root) == store_path:
                break
        return store_path, stored

    async def _drop_unrecorded_root(self, root: Path) -> None:
        """A root made by a failed snapshot goes; if a recorded snapshot of the task uses
        that root, it points back to that snapshot's store path (a failed re-snapshot
        must not leave the recorded one unrooted)."""
        if not root.is_symlink():
            return
        recorded = await self.db.scalar(
            "SELECT store_path FROM snapshots WHERE gcroot = ? ORDER BY created_at DESC, id DESC LIMIT 1", (str(root),)
        )
        if recorded is None:
            root.unlink(missing_ok=True)
        elif os.readlink(root) != recorded:
            try:
                await nix.add_root(root, recorded)
            except nix.NixError as exc:
                log.error("could not point %s back to %s: %s", root, recorded, exc)

    def _fail(self, folder: Path, why: str) -> RpcError:
        return RpcError.of("snapshot_error", f"snapshot of {folder} failed: {why}; the working folder is kept", folder=str(folder))

    async def _remove(self, path: Path) -> None:
        def rm() -> None:
            _make_writable_and_remove(path)

        if self._spawn is not None:
            self._spawn(anyio.to_thread.run_sync, rm)
        else:
            await anyio.to_thread.run_sync(rm)

    # -- queries -------------------------------------------------------------
    async def latest_for_project(self, project_id: str) -> dict | None:
        row = await self.db.fetchone(
            "SELECT * FROM snapshots WHERE project_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (project_id,)
        )
        return _row(row) if row else None

    async def start_from_latest(self, project_id: str, folder: str | Path) -> dict | None:
        """For a repeat run: when ``folder`` is absent or empty and the project
        has a snapshot, restore the latest one there; the row restored, or None
        (nothing to restore, or the folder is already there to work in)."""
        target = Path(folder)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            return None
        latest = await self.latest_for_project(project_id)
        if latest is None:
            return None
        await self.restore(latest["task_id"], target, adopt_git=True)
        return latest

    async def list_for_project(self, project_id: str) -> list[dict]:
        rows = await self.db.fetchall(
            "SELECT * FROM snapshots WHERE project_id = ? ORDER BY created_at DESC, id DESC", (project_id,)
        )
        return [_row(r) for r in rows]

    # -- restore -------------------------------------------------------------
    async def restore(self, task_id: str, dest: str | Path | None = None, *, adopt_git: bool | None = None) -> str:
        """Copy the task's snapshot to ``dest``; the path restored to.  ``adopt_git``
        (given by Octra's own callers, which restore to folders of Octra's): whether the
        restored ``.git`` moves to the git directory in the data folder; by default
        (a user's restore) it does when ``dest`` is the project's own folder."""
        row = await self.db.fetchone(
            "SELECT * FROM snapshots WHERE task_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (task_id,)
        )
        if row is None:
            raise RpcError.of("not_found", f"task {task_id!r} has no snapshot")
        store_path = row["store_path"]
        self._check_recorded(task_id, store_path, row["gcroot"])
        project = await self.db.fetchone("SELECT path FROM projects WHERE id = ?", (row["project_id"],))
        if dest is None:
            if project is None:
                raise RpcError.of("invalid_params", f"the project of task {task_id} is gone; give a destination")
            dest = project["path"]
        if not os.path.isabs(dest):
            raise RpcError.of("invalid_params", f"destination must be an absolute path, not {str(dest)!r}")
        own = project is not None and os.path.normpath(dest) == os.path.normpath(project["path"])
        # the project's folder, and the folders Octra restores into itself, are under the data
        # folder the user configured; any other destination is checked for symlinks
        target = _unlinked(Path(os.path.normpath(dest)), check=adopt_git is None and not own)
        if adopt_git is None:
            adopt_git = own
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise RpcError.of(
                "conflict", f"{target} exists and is not an empty folder; restore elsewhere or remove it first", path=str(target)
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RpcError.of("snapshot_error", f"cannot restore to {target}: {exc.strerror}: {exc.filename}",
                              path=str(target)) from None
        temp = target.parent / f".{target.name}.restoring-{secrets.token_hex(4)}"
        valid: list[bool] = []
        failed: list[BaseException] = []

        async def check_valid() -> None:
            valid.append(await nix.valid(store_path))

        async def copy() -> None:
            try:
                await anyio.to_thread.run_sync(tree.copy_out, store_path, temp)
            except (OSError, tree.TreeError) as exc:
                failed.append(exc)

        try:
            # Nix's word on the path comes while the copy runs; nothing is moved into place without it
            async with anyio.create_task_group() as tg:
                tg.start_soon(check_valid)
                tg.start_soon(copy)
            if not valid[0]:
                raise RpcError.of(
                    "forbidden", f"refusing to restore {store_path!r} for task {task_id}: Nix does not know it as a valid store path"
                )
            if failed:
                raise failed[0]
            if target.exists():
                target.rmdir()
            os.rename(temp, target)
            if adopt_git and (target / ".git").is_dir():
                await anyio.to_thread.run_sync(gitrepo.adopt, target / ".git", target)
        except RpcError:
            raise
        except (OSError, tree.TreeError, gitrepo.GitError) as exc:
            why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RpcError.of("snapshot_error", f"restoring {store_path} to {target} failed: {why}", path=str(target)) from None
        finally:
            if temp.exists() or temp.is_symlink():  # failed or cancelled before it was moved into place
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_make_writable_and_remove, temp)
        return str(target)

    def _check_recorded(self, task_id: str, store_path: Any, gcroot: Any) -> None:
        """Refuse anything but this task's own snapshot, rooted by us, in the store
        (Nix's validity check runs alongside the copy, in :meth:`restore`)."""

        def forbid(why: str) -> RpcError:
            return RpcError.of("forbidden", f"refusing to restore {store_path!r} for task {task_id}: {why}", store_path=str(store_path))

        if not isinstance(store_path, str) or not nix.is_store_path(store_path):
            raise forbid(f"it is not a path directly inside the Nix store {nix.store_dir()}")
        suffix = "-" + snapshot_name("", task_id).split("-", 2)[2]
        base = os.path.basename(store_path)
        if not (base[33:].startswith("octra-") and base.endswith(suffix)):
            raise forbid("it is not a snapshot of this task")
        try:
            st = os.lstat(store_path)
        except FileNotFoundError:
            raise RpcError.of("not_found", f"snapshot {store_path} of task {task_id} is no longer in the store") from None
        if not stat.S_ISDIR(st.st_mode):
            raise forbid("it is a symlink or a file, not a snapshot folder")
        expected_root = self.gcroots_dir / base[33:]
        if not isinstance(gcroot, str) or Path(gcroot) != expected_root:
            raise forbid("its GC root is not the one Octra registers for it")
        try:
            target = os.readlink(expected_root)
        except OSError:
            raise forbid("Octra holds no GC root for it (dropped by gc?)") from None
        if target != store_path:
            raise forbid(f"Octra's GC root for this task points to {target}")

    # -- gc ------------------------------------------------------------------
    async def gc(self, keep: int, project_id: str | None = None) -> dict:
        """Keep each project's ``keep`` newest snapshots; drop the others' rows
        and GC roots, then ask Nix to delete their paths (those still alive
        through another root stay)."""
        if keep < 1:
            raise RpcError.of("invalid_params", f"keep must be at least 1 (the latest snapshot of a project is its only copy), not {keep}")
        sql = "SELECT * FROM snapshots"
        args: tuple = ()
        if project_id is not None:
            sql += " WHERE project_id = ?"
            args = (project_id,)
        rows = await self.db.fetchall(sql + " ORDER BY project_id, created_at DESC, id DESC", args)
        seen: dict[str, int] = {}
        drop, kept = [], []
        for r in rows:
            seen[r["project_id"]] = seen.get(r["project_id"], 0) + 1
            (kept if seen[r["project_id"]] <= keep else drop).append(r)
        if not drop:
            return {"dropped": 0, "deleted": [], "kept": len(kept)}
        async with self.db.transaction() as w:
            await w.executemany("DELETE FROM snapshots WHERE id = ?", [(r["id"],) for r in drop])
        remaining = await self.db.fetchall("SELECT store_path, gcroot FROM snapshots")
        live_roots = {r["gcroot"] for r in remaining}
        live_paths = {r["store_path"] for r in remaining}
        for r in drop:
            root = r["gcroot"]
            if root and root not in live_roots and Path(root).parent == self.gcroots_dir:
                try:
                    os.unlink(root)
                except FileNotFoundError:
                    pass
        deleted = []
        for path in sorted({r["store_path"] for r in drop} - live_paths):
            if nix.is_store_path(path) and nix.available() and await nix.delete(path):
                deleted.append(path)
        return {"dropped": len(drop), "deleted": deleted, "kept": len(kept)}


def _row(r) -> dict:
    return {
        "task_id": r["task_id"],
        "project_id": r["project_id"],
        "store_path": r["store_path"],
        "created_at": r["created_at"],
        "files": r["files"],
        "bytes": r["bytes"],
    }


def _unlinked(path: Path, check: bool = True) -> Path:
    """``path`` (absolute, normalised) with every symlink among its existing parts
    resolved.  When ``check``, a symlink is refused, naming it, unless root owns it
    and the daemon is not root (then neither a command, a model nor another local
    user can have made it: a system link such as ``/var/run``); the destination
    itself must not be a symlink at all."""
    parts = path.parts
    real = Path(parts[0])
    for i, name in enumerate(parts[1:], start=1):
        nxt = real / name
        try:
            st = os.lstat(nxt)
        except (FileNotFoundError, NotADirectoryError):  # the rest is made (or fails) later
            return real.joinpath(*parts[i:])
        if stat.S_ISLNK(st.st_mode):
            if check and (i == len(parts) - 1 or st.st_uid != 0 or os.getuid() == 0):
                raise RpcError.of(
                    "forbidden",
                    f"refusing to restore to {path}: {nxt} is a symlink (to {os.readlink(nxt)}); "
                    "name the real folder instead",
                    path=str(path), symlink=str(nxt),
                )
            nxt = Path(os.path.realpath(nxt))
        real = nxt
    return real


def _make_writable_and_remove(path: Path) -> None:
    def onerror(func, p, exc_info):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass

    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, onerror=onerror)
