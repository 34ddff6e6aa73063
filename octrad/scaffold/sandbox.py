"""Bubblewrap around a command, built as an allow-list.

The sandbox starts from an empty root and gets only what a toolchain needs:
the system read-only (``/usr``, the ``/bin``, ``/sbin`` and ``/lib*`` links or
folders, the parts of ``/etc`` listed in :data:`ETC`, ``/nix/store``), the
toolchains on ``PATH`` that live elsewhere, read-only, the project folder
writable, and a private ``/tmp`` that also holds the command's ``HOME``.
Everything else (``XDG_RUNTIME_DIR`` and the daemon's socket, Octra's data,
config and logs, the user's home, other projects, other ``/tmp`` folders) is
simply not there.  All namespaces are new (``--unshare-all``), capabilities
are dropped, nested user namespaces are refused where bubblewrap can, and the
command gets its own session (no ``TIOCSTI`` into the daemon's terminal).

The network namespace is always a new one; a command that needs a package
registry gets the fenced user-mode network of :mod:`octrad.scaffold.netfence`
attached to it, never the host's network namespace.

``decide(mode)`` turns the ``sandbox`` setting (auto | bwrap | none) into
"use bwrap or not, and why"; ``wrap(...)`` builds the command line;
``status(mode)`` is what ``daemon.status`` reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from . import netfence

#: inside the sandbox: a fresh home on the private /tmp
SANDBOX_HOME = "/tmp/home"

#: top-level system folders: bound read-only, or recreated as the same symlink (merged /usr)
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: what of /etc a toolchain reads (name resolution, users, TLS roots, the
#: dynamic linker, time zone, Debian alternatives, language runtimes' system
#: config); never shadow, ssh, machine-id or the package manager's config
ETC = (
    "resolv.conf", "hosts", "host.conf", "nsswitch.conf", "gai.conf", "services", "protocols",
    "passwd", "group", "localtime", "timezone", "os-release", "debian_version", "mtab", "locale.alias",
    "ssl", "pki", "ca-certificates", "ca-certificates.conf", "crypto-policies", "gnutls",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives",
    "mime.types", "magic", "terminfo", "fonts",
    "pip.conf", "npmrc", "gitconfig", "wgetrc", "maven", "perl", "php", "R", "gemrc", "dotnet",
)
#: patterns of versioned /etc folders (java-17-openjdk, python3.11)
ETC_GLOBS = ("java-*", "python3*")

#: per-user state folders the child env may name outside the sandbox: unset, so
#: tools use their defaults under the private HOME (CARGO_HOME is set there)
STATE_VARS = (
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "CARGO_HOME", "GOPATH", "GOCACHE",
    "GOMODCACHE", "GRADLE_USER_HOME", "PUB_CACHE", "GEM_HOME", "GEM_PATH",
)
#: toolchain install roots the child env may name: bound read-only like PATH's
ROOT_VARS = ("RUSTUP_HOME", "PYENV_ROOT", "NVM_DIR", "GOROOT", "JAVA_HOME", "DOTNET_ROOT", "ANDROID_HOME", "FLUTTER_ROOT")


class SandboxUnavailable(Exception):
    """``sandbox = "bwrap"`` is set but bubblewrap cannot run here."""


# -- what the machine offers --------------------------------------------------
@lru_cache(maxsize=1)
def _system_args() -> tuple[str, ...]:
    """The read-only system part of every sandbox (looked at once: it does not change)."""
    args: list[str] = []
    for top in SYSTEM:
        _bind_or_link(args, Path(top))
    for name in ETC:
        _bind_or_link(args, Path("/etc", name))
    for pattern in ETC_GLOBS:
        for p in sorted(Path("/etc").glob(pattern)):
            _bind_or_link(args, p)
    if Path("/nix/store").is_dir():
        args += ["--ro-bind", "/nix/store", "/nix/store"]
    return tuple(args)


def _bind_or_link(args: list[str], p: Path) -> None:
    """A symlink that stays inside what the sandbox has (merged /usr,
    ``/etc/localtime``, ``/etc/mtab``) is made again as the same symlink;
    anything else that exists is bound read-only (a symlink that leads out,
    e.g. ``resolv.conf`` into ``/run``: its target)."""
    if p.is_symlink():
        target = os.readlink(p)
        resolved = Path(os.path.normpath(p.parent / target))
        if any(_inside(resolved, Path(t)) for t in ("/usr", "/proc", "/nix/store")):
            args += ["--symlink", target, str(p)]
        elif p.exists():
            args += ["--ro-bind", str(p.resolve()), str(p)]
        # else dangling on the host (e.g. into a stopped /run/systemd): left out
    elif p.exists():
        args += ["--ro-bind", str(p), str(p)]


#: extra flags, strongest first: no capabilities and no nested user namespaces
#: (needs bubblewrap 0.8 and a user namespace), else at least no capabilities
_HARDENING: tuple[tuple[str, ...], ...] = (
    ("--unshare-user", "--disable-userns", "--cap-drop", "ALL"),
    ("--cap-drop", "ALL"),
    (),
)
#: the first of _HARDENING that worked here (set by probe)
_hardening: list[str] = []


@lru_cache(maxsize=1)
def probe() -> tuple[bool, str]:
    """Whether bubblewrap is installed and can create its namespaces here: (ok, bwrap's path or why not)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    last = ""
    for extra in _HARDENING:
        try:
            proc = subprocess.run(
                [exe, *_system_args(), "--dev", "/dev", "--proc", "/proc", "--unshare-all", *extra,
                 "--die-with-parent", "--new-session", "--", "true"],
                capture_output=True, timeout=10, env={"PATH": "/usr/bin:/bin"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap cannot run: {exc}"
        if proc.returncode == 0:
            _hardening[:] = extra
            return True, exe
        last = proc.stderr.decode(errors="replace").strip()
    return False, f"bubblewrap cannot create a sandbox here: {last}"


def decide(mode: str) -> tuple[bool, str]:
    """(use bwrap, note) for the ``sandbox`` setting; raises for ``bwrap`` when it cannot run."""
    if mode == "none":
        return False, "commands run unsandboxed: the setting sandbox = none"
    ok, detail = probe()
    if ok:
        return True, ""
    if mode == "bwrap":
        raise SandboxUnavailable(f"setting sandbox = bwrap, but {detail}")
    return False, f"commands run unsandboxed (sandbox = auto): {detail}"



def status(mode: str) -> dict:
    """``daemon.status``'s ``sandbox`` field: the setting, whether bubblewrap runs, and the network tool."""
    ok, detail = probe()
    net, why = netfence.network_tool()
    if mode == "none":
        text = "off (setting sandbox = none): commands run unsandboxed"
    elif ok:
        text = f"bubblewrap {detail}"
    elif mode == "bwrap":
        text = f"commands are refused (sandbox = bwrap): {detail}"
    else:
        text = f"commands run unsandboxed (sandbox = auto): {detail}"
    if mode == "none" or not ok:
        net, net_text = "none", "unsandboxed commands have the host's whole network"
    elif net == "none":
        net_text = f"registry commands get no network: {why}"
    else:
        net_text = f"registry commands reach the internet through {net}, not the host's loopback or local addresses"
    return {"mode": mode, "available": ok, "detail": text, "network": net, "network_detail": net_text}


# -- the command line ---------------------------------------------------------
@dataclass
class Wrapped:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: the user-mode network to attach once bubblewrap has made the namespace (None: no network)
    fence: netfence.NetFence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def network(self) -> str:
        """What the command's network is: "pasta", "slirp4netns" or "none"."""
        return self.fence.kind if self.fence else "none"


def wrap(
    argv: list[str],
    *,
    project: Path,
    cwd: Path,
    network: bool,
    deny: Sequence[Path] = (),
    env: dict[str, str],
) -> Wrapped:
    """``argv`` run by bubblewrap with only ``project`` writable.

    ``deny``: folders and files that must not be reachable even when a
    toolchain on ``PATH`` lies near them (Octra's data, config and logs, the
    daemon's socket folder, the projects folder): nothing is bound that is or
    holds one of them.  ``network``: attach a fenced user-mode network (when
    neither tool is installed the command runs without, and ``notes`` say why).
    Environment changes (``HOME`` on the private ``/tmp``...) are made with
    ``--setenv``, inside the sandbox only: what runs bubblewrap (``nix
    develop``) keeps the real ones.
    """
    _, exe = probe()
    notes: list[str] = []
    project = Path(os.path.abspath(project))
    home = Path(os.path.abspath(Path.home()))
    # the home is never bound (only toolchains inside it), so it needs no denying
    deny = [Path(os.path.abspath(d)) for d in deny if d and Path(os.path.abspath(d)) != home]
    args = [exe, *_system_args(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", SANDBOX_HOME]
    new_env = dict(env)
    for var, sub in (("RUSTUP_HOME", ".rustup"), ("PYENV_ROOT", ".pyenv"), ("NVM_DIR", ".nvm")):
        # toolchain managers find their toolchains through HOME, which changes
        if var not in env and (home / sub).is_dir():
            new_env[var] = str(home / sub)
    for d in toolchain_dirs(new_env, project=project, home=home, deny=deny):
        args += ["--ro-bind", str(d), str(d)]
    for entry, target in store_links(new_env, deny=deny):
        args += ["--symlink", target, entry]
    args += ["--bind", str(project), str(project)]
    fence = None
    if network:
        kind, detail = netfence.network_tool()
        if kind == "none":
            notes.append(f"this command needs a package registry but runs with no network: {detail}")
        else:
            fence = netfence.NetFence(kind, detail)
            args += fence.bwrap_args()
    for var in STATE_VARS:
        if var in new_env and not _inside(Path(os.path.abspath(new_env[var])), project):
            del new_env[var]
            args += ["--unsetenv", var]
    new_env["HOME"] = SANDBOX_HOME
    new_env.setdefault("CARGO_HOME", f"{SANDBOX_HOME}/.cargo")
    new_env["TMPDIR"] = "/tmp"
    for key, value in new_env.items():
        if env.get(key) != value:
            args += ["--setenv", key, value]
    # the root itself read-only: only the project, /tmp and its HOME take writes
    args += ["--remount-ro", "/", "--unshare-all", *_hardening, "--die-with-parent", "--new-session", "--chdir", str(cwd), "--"]
    return Wrapped([*args, *argv], dict(env), fence, notes)


#: never bound whole, nor anything that holds them; nothing inside the first four either
NEVER_INSIDE = ("/run", "/proc", "/sys", "/dev")
NEVER = (*NEVER_INSIDE, "/tmp", "/var/tmp", "/home", "/etc", "/var", "/root", "/mnt", "/media")


def toolchain_dirs(env: dict[str, str], *, project: Path, home: Path, deny: Sequence[Path]) -> list[Path]:
    """The folders outside the system that the toolchains on ``PATH`` need, read-only.

    For an entry ``<prefix>/bin`` outside the home, the whole ``<prefix>`` (a Go
    or Node install keeps its libraries beside ``bin``); under the home only the
    entry itself (``~/.cargo/bin``, not ``~/.cargo`` with its registry token),
    except a virtualenv (``pyvenv.cfg``) and the managers' own roots
    (``RUSTUP_HOME``, ``PYENV_ROOT``, ``NVM_DIR``).  A virtualenv brings its
    base interpreter.  Never a top-level folder, one that is, holds or lies in
    a ``deny`` folder, the home or what holds it, ``/run`` and the like (see
    :data:`NEVER`), nor a ``/tmp`` folder because a command names it: only
    ``PATH`` counts.
    """
    out: list[Path] = []

    def add(p: Path) -> bool:
        p = Path(os.path.abspath(p))
        if not p.is_dir() or len(p.parts) < 3 or _inside(p, project):
            return False
        if any(_inside(p, Path(t)) for t in ("/usr", "/nix/store")) or any(_inside(p, o) for o in out):
            return True  # there already
        if _inside(home, p) or any(_inside(Path(n), p) for n in NEVER) or any(_inside(p, Path(n)) for n in NEVER_INSIDE):
            return False
        if any(_inside(p, d) or _inside(d, p) for d in deny):
            return False
        out[:] = [o for o in out if not _inside(o, p)]
        out.append(p)
        return True

    def add_venv(prefix: Path) -> bool:
        cfg = prefix / "pyvenv.cfg"
        if not cfg.is_file() or not add(prefix):
            return False
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                base = Path(value.strip())
                add(base.parent if base.name == "bin" else base)
        return True

    entries = [Path(e) for e in env.get("PATH", "").split(":") if e and Path(e).is_absolute() and Path(e).is_dir()]
    managers = [Path(env[v]) for v in ("RUSTUP_HOME", "PYENV_ROOT", "NVM_DIR") if env.get(v)]
    for p in entries:
        if _links_into_system(p):
            continue  # recreated as the link alone (store_links)
        prefix = p.parent if p.name in ("bin", "sbin") else p
        if add_venv(prefix):
            continue
        owner = next((m for m in managers if _inside(p, m)), None)
        if owner is not None:
            add(owner)
        elif _inside(p, home) or not add(prefix):
            add(p)
    for var in ROOT_VARS:
        if env.get(var) and (var != "PYENV_ROOT" and var != "NVM_DIR" or any(_inside(p, Path(env[var])) for p in entries)):
            add(Path(env[var]))
    return out


def store_links(env: dict[str, str], *, deny: Sequence[Path]) -> list[tuple[str, str]]:
    """``PATH`` entries that are symlinks into what the sandbox has already
    (``/run/current-system/sw/bin``, ``~/.nix-profile/bin`` into ``/nix/store``):
    (entry, target) to recreate as the same symlink, which brings nothing of
    the folder that holds it (``/run`` stays empty but for the link)."""
    links = []
    for entry in env.get("PATH", "").split(":"):
        p = Path(entry)
        if not entry or not p.is_absolute() or not p.is_dir():
            continue
        if not _links_into_system(p):
            continue
        if any(_inside(p, Path(t)) for t in (*SYSTEM, "/nix/store", "/proc", "/dev", "/sys")) or any(_inside(p, d) for d in deny):
            continue
        links.append((os.path.abspath(p), os.path.realpath(p)))
    return links


def _links_into_system(p: Path) -> bool:
    real = Path(os.path.realpath(p))
    return real != Path(os.path.abspath(p)) and any(_inside(real, Path(t)) for t in ("/usr", "/nix/store"))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


if __name__ == "__main__":  # a quick look: python -m octrad.scaffold.sandbox
    print(json.dumps(status(sys.argv[1] if len(sys.argv) > 1 else "auto"), indent=2))
