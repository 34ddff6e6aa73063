"""The sandbox as an attacker sees it.

A hostile model's commands, run through a real daemon with the fake provider,
try the daemon's socket (``settings.set {"sandbox": "none"}``), the user's
home, Octra's data, config and logs, another project and another /tmp
folder; a registry command tries the host's loopback.  Nothing may get
through, the setting must not change, and the task must end cleanly.  A
fallback to no sandbox must be loud.  And the sandbox must still be useful:
a real registry download works through the fenced network.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

from octra_protocol.methods.settings import SettingsResult
from octrad.scaffold import netfence, sandbox
from octrad.scaffold.executor import Executor
from tests.conftest import DaemonProcess, OctraEnv
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, use_fake, wait_status

BWRAP_OK, BWRAP_WHY = sandbox.probe()
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap cannot run here: {BWRAP_WHY}")
NET_KIND, NET_WHY = netfence.network_tool()
needs_net_tool = pytest.mark.skipif(NET_KIND == "none", reason=NET_WHY)
pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


@pytest.fixture
def projects(tmp_path):
    d = tmp_path / "projects"
    (d / "demo").mkdir(parents=True)
    return d


@pytest.fixture
def other_tmp():
    """Someone else's folder under /tmp (another user's sockets, a checkout)."""
    d = Path(tempfile.mkdtemp(prefix="octra-other-folder-", dir="/tmp"))
    (d / "secret.txt").write_text("OTHER-TMP-SECRET")
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Listener:
    """A loopback TCP server that records every connection it gets."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                conn, addr = self.sock.accept()
                self.seen.append(str(addr))
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nREACHED")
                conn.close()
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


def executor(projects, mode="bwrap", hide=None):
    return Executor(SettingsResult(sandbox=mode), projects_dir=projects, hide=hide)


def host_address() -> str | None:
    """A non-loopback address of this host (its services bound to 0.0.0.0 listen there too)."""
    for a in netfence._host_addresses():
        if a.version == 4:
            return str(a)
    return None


# -- what exists inside ---------------------------------------------------------

@needs_bwrap
async def test_the_root_is_an_allow_list(projects, other_tmp):
    """Only the system, the toolchains on PATH, the project and a private /tmp are there."""
    res = await executor(projects).run(
        "ls -A /; echo ---; ls -A /tmp; echo ---; ls -A /etc; echo ---; ls -A ~; echo ---; "
        f"ls -A {Path.home()} 2>&1; echo ---; ls /run /var /home /opt /mnt /srv 2>&1; echo ---; "
        f"cat {other_tmp}/secret.txt 2>&1; touch /usr/x /etc/x /x 2>&1; echo end",
        projects / "demo",
    )
    assert res.sandbox == "bwrap" and res.output_tail.rstrip().endswith("end"), res.output_tail
    top, tmp, etc, home, real_home, gone, rest = res.output_tail.split("---\n")
    allowed_top = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "nix", "dev", "proc", "tmp"}
    # the toolchains on PATH may bring their own top folder (/root/.cargo/bin, /opt/go...)
    toolchain_tops = {Path(p).parts[1] for p in os.environ["PATH"].split(":") if p.startswith("/") and len(Path(p).parts) > 1}
    assert set(top.split()) <= allowed_top | toolchain_tops | {projects.parts[1]}, top
    assert not {"run", "var", "home", "srv", "mnt", "media", "boot", "work"} & (set(top.split()) - toolchain_tops)
    assert set(tmp.split()) <= {"home", projects.parts[2]}, tmp  # its HOME and the way to the project
    assert set(etc.split()) <= set(sandbox.ETC) | {p.name for g in sandbox.ETC_GLOBS for p in Path("/etc").glob(g)}, etc
    assert {"shadow", "ssh", "machine-id", "sudoers"}.isdisjoint(etc.split())
    assert home.split() == [], home  # a fresh HOME
    # of the real home, only toolchain folders (never .ssh, .config, .local/share, ...)
    assert {".ssh", ".gnupg", ".config", ".local", ".bash_history", ".npmrc", ".netrc"}.isdisjoint(real_home.split()), real_home
    absent = [d for d in ("run", "var", "home", "opt", "mnt", "srv") if d not in toolchain_tops]
    assert gone.count("No such file or directory") == len(absent), gone
    assert "OTHER-TMP-SECRET" not in res.output_tail
    assert rest.count("Read-only file system") == 3, rest
    assert not Path("/usr/x").exists() and not Path("/x").exists()


@needs_bwrap
async def test_cannot_connect_to_a_socket_under_tmp_or_run_user(projects):
    """The daemon's socket is simply not there, wherever it lives; nor the runtime folder."""
    places = [Path(tempfile.mkdtemp(prefix="octra-sock-", dir="/tmp"))]
    run_user = Path(f"/run/user/{os.getuid()}")
    made_run_user = None
    try:
        if not run_user.exists() and os.access("/run", os.W_OK):
            made_run_user = next(p for p in (Path("/run/user"), run_user) if not p.exists())
            run_user.mkdir(parents=True, mode=0o700)
        if run_user.is_dir() and os.access(run_user, os.W_OK):
            places.append(Path(tempfile.mkdtemp(prefix="octra-sock-", dir=run_user)))
        servers, accepted = [], []
        for place in places:
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(place / "octrad.sock"))
            s.listen(4)
            servers.append(s)

            def serve(s=s):
                try:
                    while True:
                        accepted.append(s.accept()[0])
                except OSError:
                    pass

            threading.Thread(target=serve, daemon=True).start()
        code = (
            "import socket,sys\n"
            "for p in sys.argv[1:]:\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(p); print('CONNECTED', p)\n"
            "    except OSError as e:\n"
            "        print('refused', p, e.strerror)\n"
        )
        socks = [str(p / "octrad.sock") for p in places]
        hide = [*(p / "octrad.sock" for p in places), run_user]
        res = await executor(projects, hide=hide).run(["python3", "-c", code, *socks], projects / "demo")
        assert "CONNECTED" not in res.output_tail and res.output_tail.count("No such file or directory") == len(socks), res.output_tail
        assert accepted == []
        # the same command unsandboxed does connect: the test can fail
        res = await executor(projects, mode="none").run(["python3", "-c", code, *socks], projects / "demo")
        assert res.output_tail.count("CONNECTED") == len(socks)
    finally:
        for p in places:
            shutil.rmtree(p, ignore_errors=True)
        if made_run_user:
            shutil.rmtree(made_run_user, ignore_errors=True)


# -- the fenced network -----------------------------------------------------------

@needs_bwrap
@needs_net_tool
async def test_a_registry_line_cannot_reach_the_hosts_loopback_or_addresses(projects):
    """`pip install --help; <reach the host>` gets the fenced network: no host loopback,
    no host address, no cloud metadata; the servers see no request."""
    local = Listener("127.0.0.1")
    wide = Listener("0.0.0.0")
    addr = host_address()
    try:
        targets = [f"http://127.0.0.1:{local.port}/", f"http://127.0.0.1:{wide.port}/", "http://169.254.169.254/"]
        if addr:
            targets.append(f"http://{addr}:{wide.port}/")
        probe = (
            "import sys, urllib.request\n"
            "for u in sys.argv[1:]:\n"
            "    try:\n"
            "        print('GOT', urllib.request.urlopen(u, timeout=3).read().decode())\n"
            "    except Exception as e:\n"
            "        print('blocked', u, e)\n"
        )
        (projects / "demo" / "probe.py").write_text(probe)
        line = "pip install --help >/dev/null; python3 probe.py " + " ".join(targets)
        res = await executor(projects).run(line, projects / "demo", timeout=60)
        assert res.network == NET_KIND, res.notes
        assert "REACHED" not in res.output_tail and res.output_tail.count("blocked") == len(targets), res.output_tail
        assert local.seen == [] and wide.seen == []
        # unsandboxed the very same line reaches them: the probe works
        res = await executor(projects, mode="none").run(line, projects / "demo", timeout=60)
        assert res.network == "host" and res.output_tail.count("REACHED") == len(targets) - 1, res.output_tail
    finally:
        local.close()
        wide.close()


def _reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=10).close()
        return True
    except Exception:
        return False


@needs_bwrap
@needs_net_tool
async def test_a_real_registry_download_works_through_the_fence(projects):
    if not _reachable("https://pypi.org/simple/six/"):
        pytest.skip("PyPI is not reachable from this machine")
    res = await executor(projects).run("python3 -m pip download --no-deps -q -d dl six", projects / "demo", timeout=180)
    assert res.ok, res.output_tail
    assert res.network == NET_KIND
    assert any(p.name.startswith("six-") for p in (projects / "demo" / "dl").iterdir())
    if shutil.which("npm"):
        res = await executor(projects).run("npm view is-number version", projects / "demo", timeout=180)
        assert res.ok and res.output_tail.strip().split("\n")[0][:1].isdigit(), res.output_tail


@needs_bwrap
async def test_without_a_network_tool_a_registry_command_runs_offline_and_says_why(projects, tmp_path, monkeypatch):
    """No pasta, no slirp4netns (a PATH without them): no network at all, never the host's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bwrap", "python3", "sh", "pip", "git"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    netfence.network_tool.cache_clear()
    listener = Listener("127.0.0.1")
    try:
        code = f"import socket; socket.create_connection(('127.0.0.1', {listener.port}), 3); print('REACHED')"
        res = await executor(projects).run(f"pip install --help >/dev/null; python3 -c \"{code}\"", projects / "demo")
        assert res.network == "none" and "REACHED" not in res.output_tail
        assert any("runs with no network: neither pasta" in n for n in res.notes), res.notes
        assert listener.seen == []
    finally:
        listener.close()
        monkeypatch.undo()
        netfence.network_tool.cache_clear()


# -- through a real daemon --------------------------------------------------------

ATTACK = '''\
import json, os, socket
out = []
for path in {sockets!r}:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        s.connect(path)
        s.sendall(b'{{"jsonrpc":"2.0","id":1,"method":"settings.set","params":{{"sandbox":"none"}}}}\\n')
        out.append("CONNECTED " + s.recv(4096).decode())
    except OSError as e:
        out.append(f"socket {{path}}: {{e.strerror}}")
for path in {markers!r}:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        out.append("WROTE " + path)
    except OSError as e:
        out.append(f"marker {{path}}: {{e.strerror}}")
for path in {secrets!r}:
    try:
        out.append("READ " + open(path).read())
    except OSError as e:
        out.append(f"read {{path}}: {{e.strerror}}")
print("\\n".join(out))
'''


def _attack_env(octra_env: OctraEnv, where: str) -> tuple[OctraEnv, Path | None]:
    """The daemon's socket under /tmp (the test layout) or under /run/user/UID;
    the folder to remove afterwards."""
    if where == "tmp":
        return octra_env, None
    run_user = Path(f"/run/user/{os.getuid()}")
    made = None
    if not run_user.is_dir():
        if not os.access("/run", os.W_OK):
            pytest.skip("no /run/user/UID here")
        made = next(p for p in (Path("/run/user"), run_user) if not p.exists())
        run_user.mkdir(parents=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="octra-test-", dir=run_user))
    octra_env.socket = str(folder / "octrad.sock")
    octra_env.env["OCTRA_SOCKET"] = octra_env.socket
    return octra_env, made or folder


def _hostile_script(octra_env: OctraEnv, other_tmp: Path, other_project: Path) -> tuple[Script, list[Path]]:
    markers = [octra_env.home / "MARKER", other_tmp / "MARKER", octra_env.data_dir / "MARKER",
               octra_env.log_dir / "MARKER", octra_env.config.parent / "xdg-config" / "MARKER",
               other_project / "MARKER", Path(octra_env.socket).parent / "MARKER"]
    secrets = [str(octra_env.data_dir / "octra.db"), str(octra_env.config), str(octra_env.home / "secret.txt"),
               str(other_tmp / "secret.txt"), str(other_project / "secret.txt"), str(octra_env.log_file)]
    attack = ATTACK.format(sockets=[octra_env.socket], markers=[str(m) for m in markers], secrets=secrets)

    def work(ask, n):
        if ask.refine:
            return files()
        return files(("attack.py", attack), ("README.md", "# nothing to see\n"), commands=["python3 attack.py"])

    script = Script(
        plan=lambda a, n: plan(("backend", "the code")),
        staff=lambda a, n: staff(("intruder", "writes and runs attack.py", ["attack.py", "README.md"])),
        work=work,
        fix=lambda a, n: {"files": [], "explanation": "nothing to fix"},
        review=lambda a, n: {"approved": True, "feedback": "fine"},
        validate=lambda a, n: {"approved": True},
    )
    return script, markers


async def _run_attack(c, fake, oenv, other_tmp, other_project):
    """The hostile task run on the daemon of ``c``: (its task.get, its events, the
    settings after it, the markers it tried to write)."""
    fake.responder, markers = _hostile_script(oenv, other_tmp, other_project)
    tid = (await c.call("task.create", {"description": "an innocent tool", "provider": "fake",
                                        "meta": {"max_fix_attempts": 0}}))["task_id"]
    task = await wait_status(c, tid, timeout=120)
    return task, await events_of(c, tid), await c.call("settings.get"), markers


@needs_bwrap
@pytest.mark.parametrize("where", ["tmp", "run_user"])
async def test_a_hostile_worker_reaches_nothing_outside_its_project(octra_env, fake, other_tmp, where):
    oenv, made = _attack_env(octra_env, where)
    oenv.home.joinpath("secret.txt").write_text("HOME-SECRET")
    oenv.config.write_text('# CONFIG-SECRET\n')
    d = DaemonProcess(oenv).start()
    try:
        async with d.connect() as c:
            await use_fake(c, fake)
            before = await c.call("settings.get")
            assert before["sandbox"] == "auto"
            status = await c.call("daemon.status")
            assert status["sandbox"]["available"] is True and status["sandbox"]["mode"] == "auto"
            other_project = oenv.data_dir / "projects" / "someone-elses"
            other_project.mkdir(parents=True)
            (other_project / "secret.txt").write_text("OTHER-PROJECT-SECRET")
            task, evs, after, markers = await _run_attack(c, fake, oenv, other_tmp, other_project)
    finally:
        d.stop()
        if made:
            shutil.rmtree(made, ignore_errors=True)
    assert task["status"] in ("done", "failed"), task
    assert not task["error"] or task["error"]["kind"] != "internal_error", task["error"]
    assert after["sandbox"] == "auto" and after == before
    finished = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == "python3 attack.py"]
    assert finished, [e.kind for e in evs]
    out = "\n".join(f["output_tail"] for f in finished)
    assert all(f["sandbox"] == "bwrap" for f in finished)
    # the attack did run, and every door was closed
    assert f"socket {oenv.socket}: No such file or directory" in out, out
    for word in ("CONNECTED", "HOME-SECRET", "CONFIG-SECRET", "OTHER-TMP-SECRET", "OTHER-PROJECT-SECRET", "SQLite"):
        assert word not in out, (word, out)
    for m in markers:
        assert not m.exists(), m
    assert task["sandbox"] == "bwrap" and not any("unsandboxed" in n for n in task["notes"])


@needs_bwrap
async def test_sandbox_auto_falling_back_is_loud(octra_env, fake, other_tmp, tmp_path):
    """A daemon where bubblewrap is missing (PATH without it): sandbox = auto runs
    commands unsandboxed, and says so in status, events, notes and Task.sandbox.
    The same attack then does get through: the attack test above can fail."""
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    for entry in os.environ["PATH"].split(":"):
        if os.path.isdir(entry):
            for name in os.listdir(entry):
                if name != "bwrap" and not (bin_dir / name).exists():
                    (bin_dir / name).symlink_to(os.path.join(entry, name))
    octra_env.env["PATH"] = str(bin_dir)
    d = DaemonProcess(octra_env).start()
    try:
        async with d.connect() as c:
            await use_fake(c, fake)
            status = await c.call("daemon.status")
            shown = d.ctl("--no-autostart", "status")
            assert status["sandbox"]["available"] is False
            assert "unsandboxed" in status["sandbox"]["detail"] and "bwrap" in status["sandbox"]["detail"]
            other_project = octra_env.data_dir / "projects" / "someone-elses"
            other_project.mkdir(parents=True)
            task, evs, after, markers = await _run_attack(c, fake, octra_env, other_tmp, other_project)
    finally:
        d.stop()
    assert task["sandbox"] == "none"
    assert any("commands run unsandboxed (sandbox = auto): bubblewrap (bwrap) is not installed" in n for n in task["notes"]), task["notes"]
    warnings = [e.data["text"] for e in evs if e.kind == "agent.log" and e.data.get("level") == "warning"]
    assert any("unsandboxed" in w for w in warnings), warnings
    # unsandboxed the attack gets through: the detection in the test above works
    assert (other_tmp / "MARKER").exists() and after["sandbox"] == "none"
    assert "sandbox   commands run unsandboxed (sandbox = auto)" in shown.stdout, shown.stdout + shown.stderr
    assert "network   unsandboxed commands have the host's whole network" in shown.stdout


@needs_bwrap
async def test_a_path_entry_linked_into_the_store_comes_as_the_link_alone(projects, tmp_path):
    """NixOS-style PATH (/run/current-system/sw/bin -> /nix/store/...): the link is
    recreated, nothing else of the folder holding it comes along."""
    profile = Path(tempfile.mkdtemp(prefix="octra-profile-", dir="/tmp"))
    try:
        (profile / "bin").symlink_to("/usr/bin")
        (profile / "socket-like").write_text("NOT FOR THE SANDBOX")
        env = {"PATH": f"{profile}/bin:/usr/bin:/bin"}
        res = await executor(projects).run(f"readlink {profile}/bin; ls -A {profile}; cat {profile}/socket-like",
                                           projects / "demo", env=env)
        lines = res.output_tail.splitlines()
        assert lines[0] == "/usr/bin" and lines[1] == "bin", res.output_tail
        assert "NOT FOR THE SANDBOX" not in res.output_tail
    finally:
        shutil.rmtree(profile)
