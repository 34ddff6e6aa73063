"""Can this project's commands run inside ``nix develop``?  Found out cheaply
and remembered per flake content, so a machine without network (or without
the flake's inputs in its store) falls back at once instead of waiting on a
download for every command.

Nix evaluates a flake, and builds what its inputs name, outside the sandbox
with the user's rights, so ``nix develop`` is only ever given Octra's own
files: a copy, in Octra's data folder (``statedirs.flake_dir``), of the
``flake.nix`` Octra's flake builder writes, with the ``flake.lock`` nix made
there for it.  The project folder itself is never a flake reference.

Steps, each stopping at the first "no" with the reason: Nix installed; a
``flake.nix`` in the project; that file exactly what the flake builder writes
for the name and stack it names; a ``flake.lock`` in the project, if any,
byte for byte the one recorded in Octra's copy; the flake's inputs resolvable
offline (``nix flake metadata --offline``, bounded connect timeout and a 20 s
cap); the dev shell enterable offline (``nix develop --offline -c true``,
capped at 120 s: a shell whose packages are neither built nor substitutable
would otherwise start building the toolchain from source).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import anyio

from .. import statedirs
from .environment import child_env

NIX_FLAGS = ["--extra-experimental-features", "nix-command flakes", "--option", "connect-timeout", "3"]
METADATA_TIMEOUT_S = 20
DEVELOP_TIMEOUT_S = 120


@dataclass(frozen=True)
class DevShell:
    usable: bool
    #: why not (empty when usable)
    reason: str
    #: the flake reference to give ``nix develop``
    ref: str = ""

    def prefix(self) -> list[str]:
        """The command line that runs what follows inside the dev shell."""
        return ["nix", *NIX_FLAGS, "develop", "--offline", self.ref, "-c"]


_cache: dict[tuple[str, str], DevShell] = {}
_locks: dict[tuple[str, str], anyio.Lock] = {}


def _key(folder: Path) -> tuple[str, str]:
    h = hashlib.sha256()
    for name in ("flake.nix", "flake.lock"):
        p = folder / name
        h.update(p.read_bytes() if p.exists() else b"-")
    return str(folder), h.hexdigest()


def octra_flake(text: str) -> Path:
    """Octra's own copy of the flake ``text`` (which :func:`trusted` accepted): the
    folder ``nix develop`` is given, where nix also keeps the lock it makes."""
    folder = statedirs.flake_dir(hashlib.sha256(text.encode()).hexdigest()[:20])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "flake.nix"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return folder


async def probe(folder: Path) -> DevShell:
    """Whether ``nix develop`` works offline for the flake in ``folder`` (cached)."""
    if shutil.which("nix") is None:
        return DevShell(False, "Nix is not installed")
    if not (folder / "flake.nix").is_file():
        return DevShell(False, f"no flake.nix in {folder}")
    text = trusted(folder / "flake.nix")
    if text is None:
        return DevShell(False, "flake.nix is not one Octra's flake builder wrote, and nix evaluates it outside the sandbox")
    own = octra_flake(text)
    theirs, recorded = folder / "flake.lock", own / "flake.lock"
    if theirs.exists() or theirs.is_symlink():
        if theirs.is_symlink() or not recorded.is_file() or theirs.read_bytes() != recorded.read_bytes():
            return DevShell(False, "flake.lock is not the one Octra's dev shell uses, and nix would fetch and build "
                                   "what it names outside the sandbox")
    key = _key(folder)
    if key in _cache:
        return _cache[key]
    lock = _locks.setdefault(key, anyio.Lock())
    async with lock:
        if key not in _cache:
            _cache[key] = await _probe(own)
    return _cache[key]


_DESCRIPTION = re.compile(r'^  description = "(?P<name>[^"]*) \((?P<stack>[a-z0-9+#-]+)\): development shell";$', re.M)


def trusted(flake: Path) -> str | None:
    """The text of ``flake`` when it is exactly what :func:`octrad.scaffold.flake.flake_for`
    writes for the name and stack it names, else None: nix runs a flake's code (a
    ``shellHook``) with the daemon's rights, so one a command or a repository wrote
    is never entered."""
    from .flake import UnknownStack, flake_for

    try:
        if flake.is_symlink():
            return None
        text = flake.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    m = _DESCRIPTION.search(text)
    if m is None:
        return None
    try:
        return text if flake_for(m["stack"], m["name"]) == text else None
    except UnknownStack:
        return None


async def _run(argv: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    with anyio.move_on_after(timeout):
        proc = await anyio.run_process(argv, cwd=cwd, env=child_env(), check=False, stdin=subprocess.DEVNULL)
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return proc.returncode, (err[-1] if err else "")
    return None, f"no answer within {timeout:.0f} s"


async def _probe(folder: Path) -> DevShell:
    """Probe Octra's flake copy ``folder`` (nix writes its lock there, never in a project)."""
    ref = f"path:{folder}"
    code, err = await _run(["nix", *NIX_FLAGS, "flake", "metadata", "--offline", "--no-write-lock-file", ref], folder, METADATA_TIMEOUT_S)
    if code != 0:
        return DevShell(False, f"the flake's inputs are not available offline ({err})")
    code, err = await _run(["nix", *NIX_FLAGS, "develop", "--offline", ref, "-c", "true"], folder, DEVELOP_TIMEOUT_S)
    if code != 0:
        return DevShell(False, f"the dev shell cannot be entered offline ({err})")
    return DevShell(True, "", ref)
