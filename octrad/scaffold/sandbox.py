"""Bubblewrap around a command: the whole system read-only, the project folder
writable, a private ``/tmp`` (also the command's ``HOME``), the network off
unless allowed, Octra's own data, config and the user's home hidden.

``decide(mode)`` turns the ``sandbox`` setting (auto | bwrap | none) into
"use bwrap or not, and why"; ``wrap(...)`` builds the bwrap command line and
the environment changes it needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: inside the sandbox: a fresh home on the private /tmp
SANDBOX_HOME = "/tmp/home"


class SandboxUnavailable(Exception):
    """``sandbox = "bwrap"`` is set but bubblewrap cannot run here."""


@lru_cache(maxsize=1)
def probe() -> tuple[bool, str]:
    """Whether bubblewrap is installed and can create its namespaces here."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    try:
        proc = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True, timeout=10, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap cannot run: {exc}"
    if proc.returncode != 0:
        return False, f"bubblewrap cannot create a sandbox here: {proc.stderr.decode(errors='replace').strip()}"
    return True, exe


def decide(mode: str) -> tuple[bool, str]:
    """(use bwrap, note) for the ``sandbox`` setting; raises for ``bwrap`` when it cannot run."""
    if mode == "none":
        return False, "sandbox is off (setting sandbox = none)"
    ok, detail = probe()
    if ok:
        return True, ""
    if mode == "bwrap":
        raise SandboxUnavailable(f"setting sandbox = bwrap, but {detail}")
    return False, f"running without a sandbox: {detail}"


@dataclass
class Wrapped:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def wrap(
    argv: list[str],
    *,
    project: Path,
    cwd: Path,
    network: bool,
    hide: list[Path] = (),
    env: dict[str, str],
) -> Wrapped:
    """``argv`` run by bubblewrap with only ``project`` writable.

    ``hide`` folders (Octra's data and logs, the user's home) are covered by
    empty read-only tmpfs mounts, ``hide`` files (config.toml) by /dev/null;
    the toolchains on ``PATH`` that live under a hidden folder
    (``~/.cargo/bin``, ``~/.pyenv/shims``...) are mounted back read-only.
    Environment changes (``HOME`` on the private ``/tmp``...) are made with
    ``--setenv``, inside the sandbox only.
    """
    _, exe = probe()
    args = [exe, "--die-with-parent", "--unshare-all"]
    if network:
        args.append("--share-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # the private /tmp would hide a toolchain that lives there (a virtualenv, a
    # checkout): its top folder comes back read-only, before anything is hidden in it
    words = [w.strip("'\";&|()") for a in argv for w in a.split()]  # the program of a `sh -c` line too
    for top in _tmp_tops([*words, *env.get("PATH", "").split(":")], project):
        args += ["--ro-bind", str(top), str(top)]
    hidden: list[Path] = []
    for h in sorted({Path(h) for h in hide if h}, key=lambda x: len(x.parts)):
        # a folder inside the project stays visible; one inside a hidden folder is hidden already
        if h.is_dir() and h != Path("/") and not _inside(h, project) and not any(_inside(h, x) for x in hidden):
            hidden.append(h)
    for h in hidden:
        args += ["--tmpfs", str(h)]
    for f in {Path(f) for f in hide if f and Path(f).is_file()}:
        if not any(_inside(f, h) for h in hidden) and not _inside(f, project):
            args += ["--ro-bind", "/dev/null", str(f)]  # a hidden file reads as empty
    back: list[Path] = []
    new_env = dict(env)
    real_home = Path(env.get("HOME", "")) if env.get("HOME") else None
    for entry in env.get("PATH", "").split(":"):
        p = Path(entry)
        for h in hidden:
            if entry and _inside(p, h) and p != h and p.exists():
                top = h / p.relative_to(h).parts[0]
                if top not in back:
                    back.append(top)
    if real_home is not None:
        # toolchain managers that find their toolchains through HOME, which changes
        for var, sub in (("RUSTUP_HOME", ".rustup"), ("PYENV_ROOT", ".pyenv"), ("NVM_DIR", ".nvm")):
            where = real_home / sub
            if var not in env and where.is_dir():
                new_env[var] = str(where)
            where = Path(new_env.get(var, where))
            if where.is_dir() and any(_inside(where, h) for h in hidden) and where not in back:
                back.append(where)
    for b in back:
        args += ["--ro-bind", str(b), str(b)]
    args += ["--bind", str(project), str(project)]
    if (project / ".git").is_dir():
        # the history is Octra's: a command may read it, never rewrite its config or hooks
        # (git runs outside the sandbox would obey them)
        args += ["--ro-bind", str(project / ".git"), str(project / ".git")]
    for h in hidden:  # empty and read-only (once the mount points above exist in them)
        args += ["--remount-ro", str(h)]
    new_env["HOME"] = SANDBOX_HOME
    new_env.setdefault("CARGO_HOME", f"{SANDBOX_HOME}/.cargo")
    new_env["TMPDIR"] = "/tmp"
    # set inside the sandbox only: whatever runs bubblewrap (nix develop) keeps the real HOME
    for key, value in new_env.items():
        if env.get(key) != value:
            args += ["--setenv", key, value]
    args += ["--dir", SANDBOX_HOME, "--chdir", str(cwd), "--"]
    return Wrapped([*args, *argv], dict(env))


def _tmp_tops(paths: list[str], project: Path) -> list[Path]:
    """The folders directly under /tmp that hold these absolute paths (not the project's own)."""
    tops: list[Path] = []
    for entry in paths:
        p = Path(entry)
        if not entry or not p.is_absolute() or len(p.parts) < 3 or p.parts[1] != "tmp":
            continue
        top = Path("/tmp", p.parts[2])
        if top.is_dir() and top not in tops and not _inside(top, project):
            tops.append(top)
    return tops


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False
