"""task.accept: a finished task's project judged by files the model never saw.

The project is restored from the task's snapshot into a scratch folder under
the projects folder (so the executor's sandbox treats it as a project of its
own: only it writable, no network), the caller's files are written there with
the same path rules as a model's files, the command runs, and the folder goes.
The project itself, its repository and its snapshot are never touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import anyio

from octra_protocol.errors import RpcError
from octra_protocol.methods.acceptance import MAX_ACCEPT_FILE_BYTES, MAX_ACCEPT_TIMEOUT_S, MAX_ACCEPT_TOTAL_BYTES
from octra_protocol.methods.tasks import FINAL_STATES

SCRATCH_PREFIX = ".accept-"
MAX_ACCEPT_FILES = 200
#: not "code delivered": dependencies, build output, caches, lock files
_NOT_CODE_DIRS = {".git", "node_modules", "target", "dist", "build", "__pycache__", ".venv", "venv", ".pytest_cache",
                  ".mypy_cache", "vendor", ".next", "coverage"}
_NOT_CODE_FILES = {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "go.sum", "flake.lock",
                   "poetry.lock", "uv.lock", "Pipfile.lock", "composer.lock", "Gemfile.lock"}


async def setup(daemon) -> None:
    """Scratch folders a daemon killed mid-acceptance left behind go."""
    from ..snapshots.service import _make_writable_and_remove

    root = Path(daemon.config.projects_dir)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.startswith(SCRATCH_PREFIX):
                await anyio.to_thread.run_sync(_make_writable_and_remove, entry)


def _check_params(p) -> None:
    """Bad input is refused before anything is restored, naming the file."""
    from ..pipeline.files import UnsafePath, check_path

    if not p.command.strip():
        raise RpcError.of("invalid_params", "command is empty")
    if not 0 < p.timeout_s <= MAX_ACCEPT_TIMEOUT_S:
        raise RpcError.of("invalid_params", f"timeout_s must be above 0 and at most {MAX_ACCEPT_TIMEOUT_S:g}, not {p.timeout_s:g}")
    if len(p.files) > MAX_ACCEPT_FILES:
        raise RpcError.of("invalid_params", f"{len(p.files)} files is more than the {MAX_ACCEPT_FILES} allowed")
    total = 0
    empty = Path("/nonexistent-octra-accept-root")
    for rel, text in p.files.items():
        size = len(text.encode("utf-8"))
        total += size
        if size > MAX_ACCEPT_FILE_BYTES:
            raise RpcError.of("invalid_params", f"files[{rel!r}]: {size} bytes is over the {MAX_ACCEPT_FILE_BYTES}-byte cap")
        try:
            check_path(empty, rel)  # the rules that need no folder: relative, no '..', no NUL, no .git
        except UnsafePath as exc:
            raise RpcError.of("invalid_params", f"files: {exc}; give paths relative to the project root") from None
    if total > MAX_ACCEPT_TOTAL_BYTES:
        raise RpcError.of("invalid_params", f"the files hold {total} bytes together, over the {MAX_ACCEPT_TOTAL_BYTES}-byte cap")


def count_delivered(root: Path) -> tuple[int, int]:
    """(files, non-blank lines of text) of a restored project, without dependencies,
    build output, caches and lock files: the "lines of code delivered"."""
    files = lines = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _NOT_CODE_DIRS]
        for name in filenames:
            path = Path(dirpath, name)
            if name in _NOT_CODE_FILES or path.is_symlink():
                continue
            files += 1
            try:
                if path.stat().st_size > 2 * 1024 * 1024:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if b"\0" in data[:8192]:
                continue  # binary
            lines += sum(1 for line in data.splitlines() if line.strip())
    return files, lines


async def _copy_working_folder(daemon, row, scratch: Path) -> None:
    """Without Nix there are no snapshots and the working folder stays: copy it
    (symlinks as symlinks, no ``.git``), provided no run is using it."""
    from ..pipeline.files import is_git_name

    folder = Path(row["project_path"])
    if not folder.is_dir():
        raise RpcError.of("not_found", f"task {row['id']} has no snapshot and its project folder {folder} is gone")
    busy = [t for t, pid in daemon.tasks._projects.items() if pid == row["project_id"]]
    if busy:
        raise RpcError.of("conflict", f"task {row['id']} has no snapshot and its project is busy with task {busy[0]}")

    def copy() -> None:
        shutil.copytree(folder, scratch, symlinks=True, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if is_git_name(n)])

    await anyio.to_thread.run_sync(copy)


def register(router) -> None:
    @router.method("task.accept")
    async def accept(call, p):
        from ..pipeline.files import UnsafePath, write_file
        from ..scaffold.executor import BadCommand, executor_for
        from ..scaffold.sandbox import SandboxUnavailable
        from ..snapshots import nix
        from ..snapshots.service import _make_writable_and_remove

        daemon = call.daemon
        _check_params(p)
        row = await daemon.tasks.store.row(p.task_id)  # not_found for an unknown task
        if row["status"] not in FINAL_STATES or p.task_id in daemon.tasks._projects:
            raise RpcError.of("conflict", f"task {p.task_id} is {row['status']}; acceptance runs once it has finished")
        has_snapshot = await daemon.db.scalar("SELECT COUNT(*) FROM snapshots WHERE task_id = ?", (p.task_id,))
        if not has_snapshot and nix.available():
            raise RpcError.of("not_found", f"task {p.task_id} has no snapshot (it ended {row['status']} before one was "
                                           "made): there is no project to accept")
        root = Path(daemon.config.projects_dir)
        root.mkdir(parents=True, exist_ok=True)
        scratch = root / f"{SCRATCH_PREFIX}{p.task_id}-{secrets.token_hex(4)}"
        notes: list[str] = []
        store_path = None
        try:
            if has_snapshot:
                await daemon.snapshots.restore(p.task_id, scratch, adopt_git=False)
                store_path = await daemon.db.scalar(
                    "SELECT store_path FROM snapshots WHERE task_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                    (p.task_id,))
            else:
                await _copy_working_folder(daemon, row, scratch)
                notes.append("Nix is not installed: the project's working folder was copied (no snapshot)")
            n_files, n_lines = await anyio.to_thread.run_sync(count_delivered, scratch)
            result = {"store_path": store_path, "files": n_files, "lines": n_lines}
            for rel, text in p.files.items():
                try:
                    await anyio.to_thread.run_sync(write_file, scratch, rel, text)
                except UnsafePath as exc:
                    # the project has something in the way (a symlink, a folder): it fails, the write never happens
                    why = f"acceptance file not written: {exc} (the project has it in the way)"
                    return {**result, "exit_code": 126, "passed": False, "timed_out": False, "duration_s": 0.0,
                            "output_tail": why, "sandbox": "none", "notes": [*notes, why]}
            try:
                ex = await executor_for(daemon)
                res = await ex.run(p.command, scratch, timeout=p.timeout_s, network=False)
            except BadCommand as exc:
                raise RpcError.of("invalid_params", str(exc)) from None
            except SandboxUnavailable as exc:
                raise RpcError.of("unavailable", f"acceptance cannot run: {exc}") from None
            return {**result, "exit_code": res.exit_code, "passed": res.ok, "timed_out": res.timed_out,
                    "duration_s": res.duration_s, "output_tail": res.output_tail[-8000:], "sandbox": res.sandbox,
                    "notes": [*notes, *res.notes]}
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_make_writable_and_remove, scratch)
