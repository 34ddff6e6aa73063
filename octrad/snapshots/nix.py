"""The few ``nix-store`` operations snapshots need, as subprocesses.

Nothing here knows about projects or the database: add a tree, register an
indirect GC root, check validity, delete paths.  Failures raise
:class:`NixError` with nix's own message (the caller adds what it was doing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import anyio

from ..redact import redact
from ..scaffold.environment import child_env

#: what a store path's base name looks like: 32 base-32 characters, a dash, a name
BASENAME = re.compile(r"^[0-9abcdfghijklmnpqrsvwxyz]{32}-[A-Za-z0-9+\-._?=]+$")


class NixError(Exception):
    """A nix-store command failed; the message is nix's own, shortened."""


def available() -> bool:
    return shutil.which("nix-store") is not None


def store_dir() -> str:
    return os.environ.get("NIX_STORE_DIR", "/nix/store").rstrip("/") or "/nix/store"


def is_store_path(path: str) -> bool:
    """A top-level path of the store (not a file inside one, not elsewhere)."""
    return os.path.dirname(path) == store_dir() and os.path.normpath(path) == path and bool(BASENAME.match(os.path.basename(path)))


async def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = await anyio.run_process(["nix-store", *args], env=child_env(), check=False, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = " / ".join(line.strip() for line in err[-4:]) or f"exit code {proc.returncode}"
        raise NixError(redact(tail))
    return proc


async def add(tree: str | Path) -> str:
    """``nix-store --add TREE``: the store path of its contents (named as TREE)."""
    proc = await _run("--add", str(tree))
    path = proc.stdout.decode().strip()
    if not is_store_path(path):
        raise NixError(f"nix-store --add answered {path!r}, not a store path")
    return path


async def add_root(root: str | Path, store_path: str) -> None:
    """Register ``root`` (a symlink we own) as an indirect GC root of ``store_path``."""
    await _run("--add-root", str(root), "--indirect", "--realise", store_path)


async def valid(store_path: str) -> bool:
    proc = await _run("--check-validity", store_path, check=False)
    return proc.returncode == 0


async def delete(store_path: str) -> bool:
    """Delete ``store_path`` if nothing keeps it alive; False if something does."""
    proc = await _run("--delete", store_path, check=False)
    return proc.returncode == 0
