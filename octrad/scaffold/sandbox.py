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

The network namespace is always a new one.  A command that needs a package
registry gets outbound access through user-mode networking attached to that
namespace (:class:`NetFence`: ``pasta`` from Debian's ``passt``, else
``slirp4netns``), with the host's loopback not mapped, and routes inside the
namespace that make the host's own addresses, link-local and private ranges
unreachable.  Never the host's network namespace.

``decide(mode)`` turns the ``sandbox`` setting (auto | bwrap | none) into
"use bwrap or not, and why"; ``wrap(...)`` builds the command line;
``status(mode)`` is what ``daemon.status`` reports.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

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

#: never reachable through the fenced network: the host's own addresses are added per command
UNREACHABLE_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
UNREACHABLE_V6 = ("fc00::/7",)

#: per-user state folders the child env may name outside the sandbox: unset, so
#: tools use their defaults under the private HOME (CARGO_HOME is set there)
STATE_VARS = (
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "CARGO_HOME", "GOPATH", "GOCACHE",
    "GOMODCACHE", "GRADLE_USER_HOME", "PUB_CACHE", "GEM_HOME", "GEM_PATH",
)
#: toolchain install roots the child env may name: bound read-only like PATH's
ROOT_VARS = ("RUSTUP_HOME", "PYENV_ROOT", "NVM_DIR", "GOROOT", "JAVA_HOME", "DOTNET_ROOT", "ANDROID_HOME", "FLUTTER_ROOT")

#: how long the user-mode network may take to come up before the command runs without it
ATTACH_TIMEOUT_S = 10.0


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


@lru_cache(maxsize=1)
def network_tool() -> tuple[str, str]:
    """The user-mode network a registry command gets: ("pasta" | "slirp4netns", path)
    or ("none", why); both need ``nsenter`` and ``ip`` to fence the routes."""
    missing = [t for t in ("nsenter", "ip") if _which(t) is None]
    for kind in ("pasta", "slirp4netns"):
        exe = shutil.which(kind)
        if exe is None:
            continue
        if missing:
            return "none", f"{kind} is installed but {' and '.join(missing)} (util-linux, iproute2) to fence its routes are not"
        return kind, exe
    return "none", "neither pasta (Debian package passt) nor slirp4netns is installed"


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")


def status(mode: str) -> dict:
    """``daemon.status``'s ``sandbox`` field: the setting, whether bubblewrap runs, and the network tool."""
    ok, detail = probe()
    net, why = network_tool()
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
    fence: "NetFence | None" = None
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
        kind, detail = network_tool()
        if kind == "none":
            notes.append(f"this command needs a package registry but runs with no network: {detail}")
        else:
            fence = NetFence(kind, detail)
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


# -- the fenced network -------------------------------------------------------
class NetFence:
    """User-mode networking for one sandbox's own network namespace.

    Bubblewrap makes the namespace and waits (``--block-fd``) after telling its
    pid (``--info-fd``); :meth:`attach` then connects pasta or slirp4netns to
    it (the host's loopback not mapped: ``--no-map-gw`` / ``-T none -U none``,
    ``--disable-host-loopback``), replaces the routes inside it so that the
    host's own addresses, link-local (cloud metadata) and private ranges are
    unreachable, and lets the command go.  The sandbox's ``resolv.conf`` names
    the tool's DNS forwarder.  :meth:`close` stops the helper.
    """

    def __init__(self, kind: str, exe: str):
        self.kind, self.exe = kind, exe
        self.gateway = _default_gateway() if kind == "pasta" else "10.0.2.2"
        self.dns = self.gateway if kind == "pasta" else "10.0.2.3"
        self._info_r, self._info_w = os.pipe()
        self._block_r, self._block_w = os.pipe()
        self._resolv_r, resolv_w = os.pipe()
        os.write(resolv_w, f"nameserver {self.dns}\n".encode() if self.dns else b"")
        os.close(resolv_w)
        self._dir = tempfile.mkdtemp(prefix="octra-net-")
        self._helper: subprocess.Popen | None = None
        self._exit_w: int | None = None
        self._helper_err = b""
        self._closed = False
        #: descriptors still open here (each closed once: a number may be reused after)
        self._fds = {self._info_r, self._info_w, self._block_r, self._block_w, self._resolv_r}

    def bwrap_args(self) -> list[str]:
        return ["--info-fd", str(self._info_w), "--block-fd", str(self._block_r),
                "--ro-bind-data", str(self._resolv_r), "/etc/resolv.conf"]

    @property
    def pass_fds(self) -> tuple[int, int, int]:
        return (self._info_w, self._block_r, self._resolv_r)

    def started(self) -> None:
        """Bubblewrap has its ends of the pipes: close ours."""
        for fd in (self._info_w, self._block_r, self._resolv_r):
            self._drop(fd)

    def attach(self) -> str | None:
        """Connect the network and release the command; None, or why it runs without network.

        Blocking (the executor calls it in a thread); each step is bounded by
        :data:`ATTACH_TIMEOUT_S`.  Whatever happens the command is released."""
        try:
            pid = self._child_pid()
            if self.kind == "pasta" and not self.gateway:
                return "the host has no default IPv4 route for pasta to copy"
            # bubblewrap brings up the namespace's loopback itself, racing a helper that starts now
            self._wait_loopback(pid)
            if self.kind == "pasta":
                self._start_pasta(pid)
            else:
                self._start_slirp(pid)
            self._fence_routes(pid)
            return None
        except (OSError, ValueError, subprocess.SubprocessError, _NetError) as exc:
            self._stop_helper()
            return f"{self.kind} could not connect the sandbox ({exc})"
        finally:
            try:
                os.write(self._block_w, b"1")
            except OSError:
                pass
            self._drop(self._block_w)

    def _child_pid(self) -> int:
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        data = b""
        while b"}" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._info_r], [], [], left)[0]:
                raise _NetError("bubblewrap did not report its namespace in time")
            chunk = os.read(self._info_r, 4096)
            if not chunk:
                raise _NetError("bubblewrap exited before its namespace was ready")
            data += chunk
        return int(json.loads(data)["child-pid"])

    def _owner(self, pid: int, always: bool = False) -> tuple[list[str], tuple[int, ...]]:
        """How a helper gets the rights over the sandbox's network namespace:
        root has them already (unless ``always``); a user enters the user
        namespace that owns it (not the command's own, which
        ``--disable-userns`` nests one deeper), passed as an inherited
        descriptor: (its /proc/self/fd path or nothing, fds)."""
        if os.geteuid() == 0 and not always:
            return [], ()
        net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            owner = fcntl.ioctl(net, _NS_GET_USERNS)
        finally:
            os.close(net)
        self._fds.add(owner)
        return [f"/proc/self/fd/{owner}"], (owner,)

    def _start_pasta(self, pid: int) -> None:
        pidfile = os.path.join(self._dir, "pasta.pid")
        cmd = [self.exe, "--config-net", "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
               "--dns-forward", self.dns, "-q", "-P", pidfile]
        userns, fds = self._owner(pid)
        if userns:
            cmd += ["--userns", userns[0]]
        else:
            cmd += ["--runas", "0"]  # as root pasta would drop to nobody, who may not enter the namespace
        proc = subprocess.run([*cmd, "--netns", f"/proc/{pid}/ns/net"], capture_output=True, timeout=ATTACH_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, pass_fds=fds)
        self._pasta_pid = _read_int(pidfile)
        if proc.returncode != 0:
            raise _NetError(_tail(proc.stderr) or f"exit code {proc.returncode}")

    def _start_slirp(self, pid: int) -> None:
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        self._fds.add(self._exit_w)
        # slirp4netns would enter the command's own user namespace, which does not own the network one
        userns, fds = self._owner(pid, always=True)
        try:
            self._helper = subprocess.Popen(
                [self.exe, "--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd", str(ready_w),
                 "--exit-fd", str(exit_r), f"--userns-path={userns[0]}", f"--netns-type=path", f"/proc/{pid}/ns/net", "tap0"],
                pass_fds=(ready_w, exit_r, *fds), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        finally:
            _close(ready_w)
            _close(exit_r)
        try:
            if not select.select([ready_r], [], [], ATTACH_TIMEOUT_S)[0] or os.read(ready_r, 1) != b"1":
                self._stop_helper_now()
                raise _NetError(f"slirp4netns did not get ready: {_tail(self._helper_err)}")
        finally:
            _close(ready_r)

    def _enter(self, pid: int) -> tuple[list[str], tuple[int, ...]]:
        """nsenter into the sandbox's network namespace with the rights over it."""
        userns, fds = self._owner(pid)
        enter = [_which("nsenter") or "nsenter", f"--net=/proc/{pid}/ns/net"]
        if userns:
            enter += [f"--user={userns[0]}", "--preserve-credentials"]
        return enter, fds

    def _wait_loopback(self, pid: int) -> None:
        enter, fds = self._enter(pid)
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while time.monotonic() < deadline:
            shown = subprocess.run([*enter, _which("ip") or "ip", "-br", "-4", "addr", "show", "dev", "lo"],
                                   capture_output=True, timeout=ATTACH_TIMEOUT_S, env=_IP_ENV, pass_fds=fds)
            if b"127.0.0.1" in shown.stdout:
                return
            time.sleep(0.002)
        raise _NetError("the sandbox's loopback did not come up")

    def _fence_routes(self, pid: int) -> None:
        """Inside the namespace: the connected subnets and every private, link-local
        and host-local address become unreachable, the gateway and DNS stay on-link."""
        enter, fds = self._enter(pid)
        ip = _which("ip") or "ip"
        env = _IP_ENV
        shown = subprocess.run([*enter, "sh", "-c", f"{ip} -j -4 route show table main; echo; {ip} -j -6 route show table main"],
                               capture_output=True, timeout=ATTACH_TIMEOUT_S, env=env, pass_fds=fds)
        if shown.returncode != 0:
            raise _NetError(f"cannot read the sandbox's routes: {_tail(shown.stderr)}")
        v4, _, v6 = shown.stdout.decode().partition("\n\n")
        batch: list[str] = []
        for text, family, keep in ((v4, 4, [self.gateway, self.dns]), (v6, 6, [])):
            routes = json.loads(text.strip() or "[]")
            gws = {r["gateway"]: r.get("dev") for r in routes if r.get("dst") == "default" and r.get("gateway")}
            keep_dev = {a: d for a, d in gws.items()}
            for addr in keep:
                if addr and addr not in keep_dev:
                    keep_dev[addr] = next(iter(gws.values()), None)
            for addr, dev in keep_dev.items():
                if dev:
                    batch.append(f"-{family} route replace {addr}/{32 if family == 4 else 128} dev {dev} scope link")
            for r in routes:
                dst = r.get("dst", "")
                if dst != "default" and not r.get("gateway") and r.get("type", "unicast") == "unicast" and "/" in dst \
                        and not dst.startswith("fe80:"):
                    batch.append(f"-{family} route replace unreachable {dst}")
        batch += [f"-4 route replace unreachable {n}" for n in UNREACHABLE_V4]
        batch += [f"-6 route replace unreachable {n}" for n in UNREACHABLE_V6]
        for addr in _host_addresses():
            batch.append(f"-{addr.version} route replace unreachable {addr}/{addr.max_prefixlen}")
        if not v6.strip() or v6.strip() == "[]":  # no IPv6 in the namespace: nothing to fence there
            batch = [line for line in batch if not line.startswith("-6 ")]
        # ip takes the family from each line's addresses: one run for both
        lines = "".join(line[3:] + "\n" for line in batch)
        done = subprocess.run([*enter, ip, "-batch", "-"], input=lines.encode(), capture_output=True,
                              timeout=ATTACH_TIMEOUT_S, env=env, pass_fds=fds)
        if done.returncode != 0:
            raise _NetError(f"cannot fence the sandbox's routes: {_tail(done.stderr)}")

    def _stop_helper_now(self) -> None:
        """Kill slirp4netns and keep what it said."""
        if self._helper is not None:
            self._helper.kill()
            self._helper_err = self._helper.communicate()[1] or b""
            self._helper = None

    def _stop_helper(self) -> None:
        pid = getattr(self, "_pasta_pid", None)
        if pid:
            try:
                os.kill(pid, 15)
            except OSError:
                pass
            self._pasta_pid = None
        if self._exit_w is not None:
            self._drop(self._exit_w)  # slirp4netns exits when this closes
            self._exit_w = None
        if self._helper is not None:
            try:
                self._helper.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._helper.kill()
                self._helper.wait()
            self._helper = None

    def _drop(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.discard(fd)
            _close(fd)

    def close(self) -> None:
        """Stop the network helper and drop the pipes (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop_helper()
        for fd in list(self._fds):
            self._drop(fd)
        shutil.rmtree(self._dir, ignore_errors=True)


_IP_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
#: ioctl on a namespace descriptor: the user namespace that owns it (linux/nsfs.h)
_NS_GET_USERNS = 0xB701


class _NetError(Exception):
    pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _tail(raw: bytes) -> str:
    lines = [ln for ln in raw.decode(errors="replace").splitlines() if ln.strip() and "syslog" not in ln]
    return "; ".join(lines[-3:])


def _default_gateway() -> str | None:
    """The host's default IPv4 gateway (pasta copies it into the namespace and forwards DNS sent to it)."""
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            f = line.split()
            if len(f) > 3 and f[1] == "00000000" and int(f[3], 16) & 2:
                return str(ipaddress.IPv4Address(int(f[2], 16).to_bytes(4, "little")))
    except (OSError, ValueError):
        pass
    return None


def _host_addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address of the host's interfaces (their services must stay out of reach)."""
    found: list = []
    try:
        last = None
        for line in Path("/proc/net/fib_trie").read_text().splitlines():
            s = line.strip()
            if s.startswith(("|--", "+--")):
                last = s[3:].strip().split("/")[0]
            elif s == "/32 host LOCAL" and last:
                a = ipaddress.IPv4Address(last)
                if not a.is_loopback and a not in found:
                    found.append(a)
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            a = ipaddress.IPv6Address(int(line.split()[0], 16))
            if not a.is_loopback and not a.is_link_local and a not in found:
                found.append(a)
    except (OSError, ValueError, IndexError):
        pass
    return found


if __name__ == "__main__":  # a quick look: python -m octrad.scaffold.sandbox
    print(json.dumps(status(sys.argv[1] if len(sys.argv) > 1 else "auto"), indent=2))
