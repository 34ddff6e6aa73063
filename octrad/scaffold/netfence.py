"""The fenced user-mode network of a sandboxed command that needs a package registry.

Bubblewrap (:mod:`octrad.scaffold.sandbox`) always gives a command a new,
empty network namespace.  :class:`NetFence` attaches user-mode networking to
that namespace (``pasta`` from Debian's ``passt``, else ``slirp4netns``), with
the host's loopback not mapped, and replaces the routes inside it so that the
host's own addresses, link-local (cloud metadata) and private ranges are
unreachable: the command reaches the internet, never the host's network
namespace, its loopback services or the local network.

``network_tool()`` says which tool this machine has (and why none);
``NetFence`` is one command's network, from bubblewrap's pipes to
:meth:`NetFence.close`.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

#: never reachable through the fenced network: the host's own addresses are added per command
UNREACHABLE_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
UNREACHABLE_V6 = ("fc00::/7",)

#: how long the user-mode network may take to come up before the command runs without it
ATTACH_TIMEOUT_S = 10.0


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

